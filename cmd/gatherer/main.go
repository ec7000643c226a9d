package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	summary string
	usage   string // full help text
	run     func(ctx context.Context, a *app, args []string, stdout, stderr io.Writer) int
}

// app holds what differs between the real program and tests.
type app struct {
	// serve is the Foolscap Tub seam (serve.go).
	serve ServeFunc
	// signals makes "run" react to SIGINT, SIGTERM and SIGHUP.
	signals bool
	// hup stands in for SIGHUP when signals is off (tests).
	hup <-chan os.Signal
	// now is the services' clock; nil means time.Now.
	now func() time.Time
	// connect is the Tub seam of "tail"; nil means defaultConnect.
	connect ConnectFunc
	// loc is the zone of tail's *-local time stamps; nil means time.Local.
	loc *time.Location
}

func commands() map[string]command {
	return map[string]command{
		"create-incident-gatherer": {summary: "Create a directory for an incident gatherer", usage: createIncidentUsage, run: runCreateIncident},
		"create-gatherer":          {summary: "Create a directory for a log gatherer", usage: createLogUsage, run: runCreateLog},
		"create-stats-gatherer":    {summary: "Create a directory for a stats gatherer", usage: createStatsUsage, run: runCreateStats},
		"run":                      {summary: "Run the gatherer a directory holds, in the foreground", usage: runUsage, run: runRun},
		"dump":                     {summary: "Print a flogfile as 'flogtool dump' does", usage: dumpUsage, run: runDump},
		"tail":                     {summary: "Follow a node's log events, as 'flogtool tail' does", usage: tailUsage, run: runTail},
		"reclassify":               {summary: "Rebuild an incident gatherer's classified/ from its incidents/", usage: reclassifyUsage, run: runReclassify},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	_ = stdin
	return runApp(ctx, &app{serve: defaultServe, signals: true}, args, stdout, stderr)
}

func runApp(ctx context.Context, a *app, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdout, stderr)
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "gatherer: unknown command %q\n\n%s", name, mainUsage())
		return exitUsage
	}
	return cmd.run(ctx, a, args[1:], stdout, stderr)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, mainUsage())
		return exitOK
	}
	if args[0] == "rules" {
		fmt.Fprint(stdout, rulesHelp)
		return exitOK
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gatherer help: unknown command %q\n\n%s", args[0], mainUsage())
		return exitUsage
	}
	fmt.Fprint(stdout, cmd.usage)
	return exitOK
}

func mainUsage() string {
	var sb strings.Builder
	sb.WriteString(`Usage: gatherer COMMAND [options] ARGS

A Foolscap incident gatherer, log gatherer and Tahoe-LAFS stats gatherer,
compatible with the directories and files of python-foolscap's flogtool
gatherers and of Tahoe's stats gatherer.

Commands:
`)
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&sb, "  %-26s %s\n", n, cmds[n].summary)
	}
	sb.WriteString(`  help [COMMAND]             Show a command's help
  help rules                 Show the syntax of classify.rules

Run "gatherer COMMAND --help" for a command's options.
`)
	return sb.String()
}
