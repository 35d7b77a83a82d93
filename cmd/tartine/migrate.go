package main

import (
	"context"
	"fmt"

	"tartine/ledger"
	"tartine/migrations"
)

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs, df := dbFlagSet(e, "migrate", "./var/pg")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	d, err := openDatabase(ctx, e, *df, newLogger(e))
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := migrations.Up(ctx, d.Pool)
	if err != nil {
		return err
	}
	_, cur, _, err := migrations.Pending(ctx, d.Pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "applied %d migration(s); schema at version %d\n", n, cur)
	return nil
}

func cmdVerify(ctx context.Context, e env, args []string) error {
	fs, df := dbFlagSet(e, "verify", "./var/pg")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	d, err := openCurrent(ctx, e, *df, newLogger(e), false)
	if err != nil {
		return err
	}
	defer d.Close()
	violations, sum, err := ledger.New(d.Pool, nil).Verify(ctx)
	if err != nil {
		return err
	}
	for _, v := range violations {
		fmt.Fprintf(e.stdout, "VIOLATION %s\n", v)
	}
	if len(violations) > 0 {
		fmt.Fprintf(e.stdout, "verify: %d violation(s)\n", len(violations))
		return exitCode(1)
	}
	fmt.Fprintf(e.stdout, "verify: ok — %d tenant(s), %d account(s), %d transfer(s), %d posting(s), %d hold(s); all invariants hold\n",
		sum.Tenants, sum.Accounts, sum.Transfers, sum.Postings, sum.Holds)
	return nil
}

// requireSchema refuses to go on with a schema older than the binary,
// unless migrate is set, in which case it migrates.
func requireSchema(ctx context.Context, d *database, migrate bool) error {
	if migrate {
		_, err := migrations.Up(ctx, d.Pool)
		return err
	}
	pending, cur, target, err := migrations.Pending(ctx, d.Pool)
	if err != nil {
		return err
	}
	if pending {
		return fmt.Errorf("database schema is at version %d but this binary needs %d: run 'tartine migrate' (or start with --migrate)", cur, target)
	}
	return nil
}
