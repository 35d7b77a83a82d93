// Command tartine-bridge is the edge daemon beside the badge readers.
//
//	tartine-bridge run --config bridge.toml
//	tartine-bridge simulate [--format tartine] [--readers 1] [--uids A,B|--count N] [--rate 2] …
//
// The logic lives in tartine/firmware-bridge; this file only parses flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "tartine-bridge:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage:
  tartine-bridge run --config FILE [--log-level info]
  tartine-bridge simulate [flags]   (tartine-bridge simulate -h for the flags)`

// run is main without the process: testable end to end.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command\n%s", errUsage, usage)
	}
	switch args[0] {
	case "run":
		return runBridge(ctx, args[1:], getenv, stdout)
	case "simulate":
		return runSimulate(ctx, args[1:], getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runBridge(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stdout)
	config := fs.String("config", "", "configuration file (TOML)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *config == "" {
		return fmt.Errorf("%w: run needs --config FILE", errUsage)
	}
	log, err := newLogger(stdout, *level)
	if err != nil {
		return err
	}
	return serve(ctx, *config, getenv, log, nil)
}
