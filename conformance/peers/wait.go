package peers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// pollInterval is how often WaitFor re-checks a condition. Polling a real
// condition under a deadline is how the suite waits; it never sleeps blindly.
const pollInterval = 100 * time.Millisecond

// WaitFor calls cond until it reports true, returns an error, or ctx ends.
// what names the condition for the error message ("the gatherer's FURL file").
func WaitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waited for %s: %w (last check: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waited for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// httpOK checks that url answers GET with 200 OK.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request for %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
