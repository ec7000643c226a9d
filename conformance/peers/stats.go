package peers

import (
	"context"
	"fmt"
	"strconv"
)

// StatsProviderSpec describes a pystats.py node: a node that calls
// provide(provider, nickname) on a stats gatherer and answers get_stats(),
// as Tahoe-LAFS <= 1.15 did with stats_gatherer.furl in [client].
type StatsProviderSpec struct {
	Name     string // peer name, unique in the scenario
	Foolscap string // Foolscap217 (default) or Foolscap249
	Gatherer string // the stats gatherer's FURL (its stats_gatherer.furl)
	Nickname string // the nickname passed to provide() ("" = Name)
	// Malformed makes get_stats() answer badly: "not-a-dict",
	// "missing-keys", "string-values", "error" or "hang" (pystats.py
	// --malformed); "" answers in Tahoe's shape.
	Malformed string
	// DisconnectAfter drops the gatherer connection after answering that
	// many get_stats() calls (0: never).
	DisconnectAfter int
	// StrKeys sends the nickname and every key as str (a Python 3 node)
	// rather than bytes (Tahoe on Python 2).
	StrKeys bool
}

func (s StatsProviderSpec) nickname() string {
	if s.Nickname != "" {
		return s.Nickname
	}
	return s.Name
}

// args is pystats.py's command line (after the interpreter) without the
// listening and control options, which depend on the mode.
func (s StatsProviderSpec) args(peersDir, nodedir string) []string {
	a := []string{peersDir + "/pystats.py", "--nodedir", nodedir, "--gatherer", s.Gatherer, "--nickname", s.nickname()}
	if s.Malformed != "" {
		a = append(a, "--malformed", s.Malformed)
	}
	if s.DisconnectAfter > 0 {
		a = append(a, "--disconnect-after", strconv.Itoa(s.DisconnectAfter))
	}
	if s.StrKeys {
		a = append(a, "--str-keys")
	}
	return a
}

func (s StatsProviderSpec) check() error {
	if s.Name == "" || s.Gatherer == "" {
		return fmt.Errorf("a stats provider needs a name and the gatherer's FURL")
	}
	return nil
}

// StatsProvider is a running pystats.py.
type StatsProvider struct {
	Name     string
	Nickname string
	Dir      string // NODEDIR on the host
	TubID    string // the tubid the gatherer files its stats under
	ctl      *control
	proc     stopper
}

// Command sends one control command ("info", "disconnect", "malformed
// MODE|off") and returns its answer.
func (p *StatsProvider) Command(ctx context.Context, line string) (map[string]any, error) {
	return p.ctl.command(ctx, line)
}

// Calls is how many get_stats() calls the provider has answered.
func (p *StatsProvider) Calls(ctx context.Context) (int, error) {
	ans, err := p.Command(ctx, "info")
	if err != nil {
		return 0, err
	}
	n, ok := ans["calls"].(float64)
	if !ok {
		return 0, fmt.Errorf("stats provider %s answered info without a call count: %v", p.Name, ans)
	}
	return int(n), nil
}

// Stop stops the provider (SIGTERM, as when a node shuts down) and returns
// once it has exited.
func (p *StatsProvider) Stop(ctx context.Context) error {
	if err := p.proc.stop(ctx); err != nil {
		return fmt.Errorf("stop stats provider %s: %w", p.Name, err)
	}
	return nil
}

// Output is what the provider printed (announcements, answers, stderr).
func (p *StatsProvider) Output() string { return outputOf(p.proc) }
