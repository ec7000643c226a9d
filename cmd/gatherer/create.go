package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

const (
	defaultIncidentPort = "tcp:3118"
	defaultLogPort      = "tcp:3117"
	tacFile             = "gatherer.tac"
)

const createIncidentUsage = `Usage: gatherer create-incident-gatherer [options] DIR

Create (or update) an incident gatherer directory, like
"flogtool create-incident-gatherer": writes DIR/port, DIR/location,
DIR/gatherer.tac (so "twistd -y gatherer.tac" also runs it) and, unless it
exists, DIR/classify.rules. Start it with "gatherer run DIR".

Options:
  -l, --location=HINTS  (required) Tub location hints to use in generated
                        FURLs, e.g. 'tcp:example.org:3118'
  -p, --port=STRPORT    TCP port to listen on: tcp:PORT[:interface=ADDR]
                        [default: tcp:3118]
  -q, --quiet           Don't print instructions to stdout
      --tahoe-rules     Write Tahoe-LAFS's classification rules (the
                        equivalent of classify_tahoe.py) to classify.rules
  -h, --help            Display this help and exit
`

const createLogUsage = `Usage: gatherer create-gatherer [options] DIR

Create (or update) a log gatherer directory, like "flogtool create-gatherer":
writes DIR/port, DIR/location and DIR/gatherer.tac, which holds the rotate
and bzip settings (so "twistd -y gatherer.tac" also runs it). Start it with
"gatherer run DIR".

Options:
  -b, --bzip            Compress each output file with bzip2
  -l, --location=HINTS  (required) Tub location hints to use in generated
                        FURLs, e.g. 'tcp:example.org:3117'
  -p, --port=STRPORT    TCP port to listen on: tcp:PORT[:interface=ADDR]
                        [default: tcp:3117]
  -q, --quiet           Don't print instructions to stdout
  -r, --rotate=SECONDS  Rotate the output file every SECONDS seconds
  -h, --help            Display this help and exit
`

// incidentTac is python-foolscap 21.7's INCIDENT_GATHERER_TACFILE with an
// empty stashed path (the Debian package is on python3's default path).
const incidentTac = `# -*- python -*-

# we record the path when 'flogtool create-incident-gatherer' is run, in case
# flogtool was run out of a source tree. This is somewhat fragile, of course.

stashed_path = [
]

import sys
needed = [p for p in stashed_path if p not in sys.path]
sys.path = needed + sys.path

from foolscap.logging import gatherer
from twisted.application import service

gs = gatherer.IncidentGathererService()

# To add a classifier function, store it in a neighboring file named
# classify_*.py, in a function named classify_incident(). All such files will
# be loaded at startup:
#
# % cat classify_foolscap.py
# import re
# TUBCON_RE = re.compile(r'^Tub.connectorFinished: WEIRD, <foolscap.connection.TubConnector instance at \w+> is not in \[')
# def classify_incident(trigger):
#     # match some foolscap messages
#     m = trigger.get('message', '')
#     if TUBCON_RE.search(m):
#         return 'foolscap-tubconnector'
# %

application = service.Application('incident_gatherer')
gs.setServiceParent(application)
`

// logTac is python-foolscap 21.7's LOG_GATHERER_TACFILE; %s are rotate and
// use_bzip.
const logTac = `# -*- python -*-

# we record the path when 'flogtool create-gatherer' is run, in case flogtool
# was run out of a source tree. This is somewhat fragile, of course.

stashed_path = [
]

import sys
needed = [p for p in stashed_path if p not in sys.path]
sys.path = needed + sys.path

from foolscap.logging import gatherer
from twisted.application import service

rotate = %s
use_bzip = %s
gs = gatherer.GathererService(rotate, use_bzip)
application = service.Application('log_gatherer')
gs.setServiceParent(application)
`

// rulesTemplate is written to a new incident gatherer's classify.rules.
const rulesTemplate = `# Classification rules for this incident gatherer ("gatherer help rules").
# One rule per line: CATEGORY CONDITION... [stop]
# Incidents no rule matches are filed under "unknown". Examples:
#
#   user-incident-button  umid=LkD9Pw
#   weird-demo            facility~^demo\. level=30
#   db-errors             text~"database (locked|corrupt)" stop
#
# "gatherer create-incident-gatherer --tahoe-rules DIR" writes the rules
# equivalent to Tahoe-LAFS's classify_tahoe.py. After editing, run
# "gatherer reclassify DIR" (with the gatherer stopped) to redo classified/.
`

// commonFlags are the options both create commands share.
type commonFlags struct {
	location, port string
	quiet          bool
}

func newFlagSet(name string, stderr io.Writer, c *commonFlags, defaultPort string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, n := range []string{"l", "location"} {
		fs.StringVar(&c.location, n, "", "")
	}
	for _, n := range []string{"p", "port"} {
		fs.StringVar(&c.port, n, defaultPort, "")
	}
	for _, n := range []string{"q", "quiet"} {
		fs.BoolVar(&c.quiet, n, false, "")
	}
	_ = stderr
	return fs
}

// parseArgs parses flags and the single DIR argument. It returns a non-zero
// exit code when the command should stop.
func parseArgs(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (string, int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return "", -1
		}
		fmt.Fprintf(stderr, "gatherer %s: %v\n\n%s", fs.Name(), err, usage)
		return "", exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "gatherer %s: expected exactly one directory argument, got %d\n\n%s", fs.Name(), fs.NArg(), usage)
		return "", exitUsage
	}
	return fs.Arg(0), 0
}

func checkCommon(name string, c *commonFlags, usage string, stderr io.Writer) int {
	if c.location == "" {
		fmt.Fprintf(stderr, "gatherer %s: --location= is mandatory\n\n%s", name, usage)
		return exitUsage
	}
	spec, err := furl.ParseListen(c.port)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer %s: bad --port: %v\n", name, err)
		return exitUsage
	}
	if spec.Port == 0 {
		fmt.Fprintf(stderr, "gatherer %s: --port must name a fixed port (tcp:0 would change the FURL at every start)\n", name)
		return exitUsage
	}
	return 0
}

// writeCommon writes port and location, creating dir if needed.
func writeCommon(dir string, c *commonFlags) error {
	// Private: it holds the Tub's key, the FURL and what is gathered.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	for name, val := range map[string]string{"port": c.port, "location": c.location} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), []byte(val+"\n")); err != nil {
			return err
		}
	}
	return nil
}

func printCreated(stdout io.Writer, what, dir string) {
	// flogtool's two lines, then ours.
	fmt.Fprintf(stdout, "%s created in directory %s\n", what, dir)
	fmt.Fprintf(stdout, "Now run '(cd %s && twistd -y gatherer.tac)' to launch the daemon\n", dir)
	fmt.Fprintf(stdout, "or 'gatherer run %s' to run it with this program, in the foreground\n", dir)
}

func runCreateIncident(_ context.Context, _ *app, args []string, stdout, stderr io.Writer) int {
	const name = "create-incident-gatherer"
	var c commonFlags
	var tahoe bool
	fs := newFlagSet(name, stderr, &c, defaultIncidentPort)
	fs.BoolVar(&tahoe, "tahoe-rules", false, "")
	dir, code := parseArgs(fs, args, createIncidentUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	if code := checkCommon(name, &c, createIncidentUsage, stderr); code != 0 {
		return code
	}
	err := writeCommon(dir, &c)
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(dir, tacFile), []byte(incidentTac))
	}
	if err == nil {
		rules := filepath.Join(dir, classify.FileName)
		switch {
		case tahoe:
			err = atomicfile.WriteFile(rules, classify.TahoeRules())
		case !exists(rules):
			err = atomicfile.WriteFile(rules, []byte(rulesTemplate))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatherer %s: %v\n", name, err)
		return exitFailure
	}
	if !c.quiet {
		printCreated(stdout, "Incident Gatherer", dir)
	}
	return exitOK
}

func runCreateLog(_ context.Context, _ *app, args []string, stdout, stderr io.Writer) int {
	const name = "create-gatherer"
	var c commonFlags
	var bzip bool
	var rotate string
	fs := newFlagSet(name, stderr, &c, defaultLogPort)
	for _, n := range []string{"b", "bzip"} {
		fs.BoolVar(&bzip, n, false, "")
	}
	for _, n := range []string{"r", "rotate"} {
		fs.StringVar(&rotate, n, "", "")
	}
	dir, code := parseArgs(fs, args, createLogUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	if code := checkCommon(name, &c, createLogUsage, stderr); code != 0 {
		return code
	}
	rotateLit := "None"
	if rotate != "" {
		n, err := strconv.ParseUint(rotate, 10, 31)
		if err != nil || n == 0 {
			fmt.Fprintf(stderr, "gatherer %s: --rotate wants a positive whole number of seconds, not %q\n", name, rotate)
			return exitUsage
		}
		rotateLit = strconv.FormatUint(n, 10)
	}
	bzipLit := "False"
	if bzip {
		bzipLit = "True"
	}
	err := writeCommon(dir, &c)
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(dir, tacFile), fmt.Appendf(nil, logTac, rotateLit, bzipLit))
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatherer %s: %v\n", name, err)
		return exitFailure
	}
	if !c.quiet {
		printCreated(stdout, "Gatherer", dir)
	}
	return exitOK
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
