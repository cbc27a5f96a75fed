package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// errHelpShown is a --help that printed a command's usage: exit 0.
var errHelpShown = errors.New("help shown")

// cli is what a command writes to: the summary on stdout, logs and the progress line on
// stderr, and the log its flags made (nil until they are parsed).
type cli struct {
	stdout io.Writer
	stderr *console
	log    *slog.Logger
}

// parse reads a command's flags and makes its log.
func (cl *cli) parse(c *cmdFlags, args []string) error {
	if err := c.parse(args, cl.stdout); err != nil {
		return err
	}
	cl.log = c.logger(cl.stderr)
	return nil
}

// cmdFlags is one subcommand's flag set with the flags every command shares (--log-format,
// --log-level), its help, and the logger those flags make.
type cmdFlags struct {
	*flag.FlagSet
	synopsis  string
	logFormat *string
	logLevel  *string
}

// newFlags starts the flags of `batch NAME`; synopsis is the usage line after "batch".
func newFlags(name, synopsis string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &cmdFlags{FlagSet: fs, synopsis: synopsis}
	c.logFormat = fs.String("log-format", "", "log format: text or json (default: text on a terminal, json otherwise)")
	c.logLevel = fs.String("log-level", "info", "least level logged: debug, info, warn or error")
	return c
}

// parse reads args. --help prints the command's usage and every flag with its description on
// stdout and returns errHelpShown; any other mistake, and a stray argument, is a usage error.
func (c *cmdFlags) parse(args []string, stdout io.Writer) error {
	err := c.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.printHelp(stdout)
		return errHelpShown
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if c.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", c.Arg(0))}
	}
	if *c.logFormat != "" && *c.logFormat != "text" && *c.logFormat != "json" {
		return &usageError{fmt.Sprintf("--log-format %q: want text or json", *c.logFormat)}
	}
	if _, err := parseLevel(*c.logLevel); err != nil {
		return &usageError{err.Error()}
	}
	return nil
}

func (c *cmdFlags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: batch %s\n\nflags:\n", c.synopsis)
	c.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// logger is the log the flags ask for, on w: text on a terminal and JSON for a log collector
// unless --log-format says otherwise, at INFO unless --log-level says otherwise.
func (c *cmdFlags) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(*c.logLevel) // checked by parse
	opts := &slog.HandlerOptions{Level: level}
	json := !isTerminal(w)
	if *c.logFormat != "" {
		json = *c.logFormat == "json"
	}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// nonNegative and positive refuse nonsense numbers as usage errors.
func nonNegative(flagName string, v int64) error {
	if v < 0 {
		return &usageError{fmt.Sprintf("--%s %d: must not be negative", flagName, v)}
	}
	return nil
}

func positive(flagName string, v int64) error {
	if v <= 0 {
		return &usageError{fmt.Sprintf("--%s %d: must be greater than 0", flagName, v)}
	}
	return nil
}

// console is stderr shared by the log and the progress line: a log line clears the progress
// line, is written whole, and the progress line is drawn again under it, so the two never run
// into each other. On anything but a terminal there is no progress line.
type console struct {
	mu   sync.Mutex
	w    io.Writer
	line string // the progress line on screen, "" when none
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.line != "" {
		io.WriteString(c.w, "\r\033[K")
	}
	n, err := c.w.Write(p)
	if c.line != "" {
		io.WriteString(c.w, c.line)
	}
	return n, err
}

// draw replaces the progress line with line ("" clears it).
func (c *console) draw(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, "\r\033[K"+line)
	c.line = line
}

// isTerminal tells whether w (or the writer a console wraps) is a terminal.
func isTerminal(w io.Writer) bool {
	if c, ok := w.(*console); ok {
		w = c.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printWarnings lists a run's warnings under its summary, the first few in full.
func printWarnings(w io.Writer, warnings []string, manifest string) {
	if len(warnings) == 0 {
		return
	}
	fmt.Fprintf(w, "warnings          %d (all in %s)\n", len(warnings), manifest)
	const shown = 10
	for i, msg := range warnings {
		if i == shown {
			fmt.Fprintf(w, "  … and %d more\n", len(warnings)-shown)
			break
		}
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(msg))
	}
}
