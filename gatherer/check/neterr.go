package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// describeNetError words a resolve or dial failure for an operator.
func describeNetError(ctx context.Context, what string, err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return what + ": connection refused (nothing listens there)"
	case ctx.Err() != nil || isTimeout(err):
		return fmt.Sprintf("%s: no answer within %s", what, timeout)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return what + ": no route to the host"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return what + ": no such host"
	}
	return fmt.Sprintf("%s: %v", what, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func joinAddrs(addrs []string) string {
	return strings.Join(addrs, ", ")
}

func joinErrs(errs []string) string {
	return strings.Join(errs, "; ")
}
