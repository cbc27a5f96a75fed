// Command batch is the monthly 高額療養費 batch: `batch run` computes one service month,
// `batch gen` makes a synthetic month to run it on. Flags, exit codes, progress and logs live
// here; everything else is in the packages.
//
// Exit status: 0 success (rejects are not failures), 1 the run could not complete (nothing is
// left in the output directory), 2 usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  batch run  --month YYYY-MM --members PATH --out DIR [--receipts PATH]... [--uke PATH]... [--history PATH]
             [--ledger DIR] [--rules FILE] [--allow-provisional] [--workers N] [--memory BYTES]
  batch correct --ledger DIR --out DIR [--receipts PATH]... [--uke PATH]... [--rules FILE] [--allow-provisional]
  batch annual --period YYYY-08 --ledger DIR --out DIR
  batch extract  --ledger DIR --from YYYY-MM --to YYYY-MM --out DIR [--rules FILE]
  batch simulate --ledger DIR (--month YYYY-MM | --from YYYY-MM [--to YYYY-MM]) --scenario +N%|FILE...
                 [--out DIR] [--round YEN] [--rules FILE] [--workers N] [--memory BYTES] [--spill-dir DIR]
  batch compact  --ledger DIR [--month YYYY-MM]
  batch gen  --households N --month YYYY-MM --out DIR [--seed S] [--months K] [--format uke]
  batch scan --receipts PATH...     (decode only: the floor under a run's time)
`

// usageError is a mistake in the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cl := &cli{stdout: stdout, stderr: &console{w: stderr}}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args, cl)
	case "correct":
		err = cmdCorrect(ctx, args, cl)
	case "extract":
		err = cmdExtract(ctx, args[1:], cl)
	case "simulate":
		err = cmdSimulate(ctx, args[1:], cl)
	case "annual":
		err = cmdAnnual(ctx, args[1:], cl)
	case "compact":
		err = cmdCompact(ctx, args[1:], cl)
	case "scan":
		err = cmdScan(ctx, args[1:], cl)
	case "gen":
		err = cmdGen(ctx, args[1:], cl)
	case "help", "-h", "--help":
		if len(args) > 1 { // batch help CMD: the command's own help
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nbatch COMMAND --help lists a command's flags.")
		return 0
	default:
		fmt.Fprintf(stderr, "batch: unknown command %q\n", args[0])
		fmt.Fprint(stderr, usage)
		return 2
	}
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "batch: %s\n", ue.msg)
		fmt.Fprintf(stderr, "batch %s --help lists its flags.\n", args[0])
		return 2
	default:
		fmt.Fprintf(stderr, "batch: %v\n", err)
		if cl.log != nil && !isTerminal(stderr) { // on a terminal the line above says it
			cl.log.Error("run failed", "error", err.Error())
		}
		return 1
	}
}

// multiFlag is a flag that may be given several times.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
