// Command tartine is Tartine's server and administration tool.
//
//	tartine serve   [--addr :8080] [--migrate] [--data-dir ./var/pg]
//	tartine demo    [--addr :8080] [--data-dir ./var/demo]
//	tartine migrate
//	tartine verify
//	tartine bench ledger [--duration 10s] [--concurrency 1,8,32] [--json]
//	tartine loadgen taps --url … [--devices N] [--duration 30s] [--json]
//	tartine import pupils FILE.csv [--dry-run]
//	tartine setup --tenant CODE --tenant-name NAME --school CODE --school-name NAME --admin LOGIN
//	tartine staff list|add|password …
//
// Without DATABASE_URL every command uses the embedded default: a private
// PostgreSQL cluster started from the installed binaries in --data-dir.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "tartine:", err)
		os.Exit(1)
	}
}

// exitCode ends the program with a status after the command printed its own
// report (e.g. verify found violations).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// env bundles what commands read from the process.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// now is the clock of the commands that depend on today (setup's
	// school years, the demo's calendar, menus and bookings).
	now func() time.Time
}

const usage = `usage: tartine <command> [flags]

commands:
  serve     run the server (portal, staff screens, device API)
  demo      run a demo school on the embedded database, with simulated readers
  migrate   apply pending database migrations
  verify    check the ledger invariants; exit 1 on any violation
  bench     benchmarks: bench ledger
  loadgen   load generators: loadgen taps
  import    imports: import pupils FILE.csv, import coda FILE
  setup     a school's first run: organising body, school, calendar, tariffs, stations, first admin
  staff     staff logins: staff list, staff add, staff password
  statements  periodic statements: statements run --period 2026-27/1 [--dry-run] [--send]

Run 'tartine <command> -h' for the flags of a command.
Environment: DATABASE_URL (else embedded PostgreSQL in --data-dir), see README.md.
`

// run is the whole program, testable end to end.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, env{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now})
}

// runEnv is run with every outside dependency given, the clock included.
func runEnv(ctx context.Context, args []string, e env) error {
	stdout, stderr := e.stdout, e.stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, e, rest)
	case "demo":
		return cmdDemo(ctx, e, rest)
	case "migrate":
		return cmdMigrate(ctx, e, rest)
	case "verify":
		return cmdVerify(ctx, e, rest)
	case "bench":
		return cmdBench(ctx, e, rest)
	case "loadgen":
		return cmdLoadgen(ctx, e, rest)
	case "import":
		return cmdImport(ctx, e, rest)
	case "setup":
		return cmdSetup(ctx, e, rest)
	case "staff":
		return cmdStaff(ctx, e, rest)
	case "statements":
		return cmdStatements(ctx, e, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return exitCode(2)
}
