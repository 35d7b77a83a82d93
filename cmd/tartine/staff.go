package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"tartine/ledger"
	"tartine/school"
)

const staffUsage = `usage: tartine staff list [--tenant CODE]
       tartine staff add --login LOGIN --roles ROLE[,ROLE…] [--name NAME] [--tenant CODE] [--school CODE]
       tartine staff password --login LOGIN
roles: admin, canteen, daycare, kiosk, accountant`

// cmdStaff is `tartine staff`: staff logins from the command line (the
// back office's /admin/staff does the same for admins). Passwords are
// generated and printed once.
func cmdStaff(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "add" && args[0] != "password") {
		fmt.Fprintln(e.stderr, staffUsage)
		return exitCode(2)
	}
	sub := args[0]
	fs, df := dbFlagSet(e, "staff "+sub, "./var/pg")
	tenantCode := tenantFlag(fs)
	schoolCode := fs.String("school", "", "add: the one school the member works for (default: every school)")
	login := fs.String("login", "", "the member's login")
	name := fs.String("name", "", "add: the member's name")
	roles := fs.String("roles", "", "add: comma-separated roles")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	if fs.NArg() > 0 || (sub != "list" && *login == "") || (sub == "add" && *roles == "") {
		fmt.Fprintln(e.stderr, staffUsage)
		return exitCode(2)
	}
	var rs []school.Role
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, school.Role(r))
		}
	}

	d, err := openCurrent(ctx, e, *df, newLogger(e), false)
	if err != nil {
		return err
	}
	defer d.Close()
	store := school.New(d.Pool, ledger.New(d.Pool, time.Now), time.Now)
	const actor = "system:cli"

	switch sub {
	case "password":
		u, err := store.StaffByLogin(ctx, *login)
		if err != nil {
			return fmt.Errorf("staff password: %w", err)
		}
		pw := school.NewStaffPassword()
		if err := store.SetStaffPassword(ctx, u.TenantID, u.ID, pw, actor); err != nil {
			return fmt.Errorf("staff password: %w", err)
		}
		fmt.Fprintf(e.stdout, "%s / %s   (shown once)\n", u.Login, pw)
		return nil
	}
	ten, err := tenantByFlag(ctx, store, *tenantCode)
	if err != nil {
		return fmt.Errorf("staff %s: %w", sub, err)
	}
	if sub == "list" {
		list, err := store.ListStaff(ctx, ten.ID)
		if err != nil {
			return err
		}
		for _, u := range list {
			state := "active"
			if !u.Active {
				state = "disabled"
			}
			rs := make([]string, len(u.Roles))
			for i, r := range u.Roles {
				rs[i] = string(r)
			}
			fmt.Fprintf(e.stdout, "%-20s %-30s %-30s %s\n", u.Login, u.Name, strings.Join(rs, ","), state)
		}
		return nil
	}
	in := school.StaffInput{Login: *login, Name: *name, Password: school.NewStaffPassword(), Roles: rs}
	if *schoolCode != "" {
		sc, err := store.SchoolByCode(ctx, ten.ID, *schoolCode)
		if err != nil {
			return fmt.Errorf("staff add: --school: %w", err)
		}
		in.SchoolID = sc.ID
	}
	u, err := store.CreateStaff(ctx, ten.ID, in, actor)
	if err != nil {
		return fmt.Errorf("staff add: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s / %s   (shown once: log in at /staff/login)\n", u.Login, in.Password)
	return nil
}

// tenantByFlag resolves a --tenant code, defaulting to the only organising
// body.
func tenantByFlag(ctx context.Context, store *school.Store, code string) (school.Tenant, error) {
	if code != "" {
		return store.TenantByCode(ctx, code)
	}
	ts, err := store.Tenants(ctx)
	if err != nil {
		return school.Tenant{}, err
	}
	if len(ts) != 1 {
		return school.Tenant{}, fmt.Errorf("%d organising bodies in the database: choose one with --tenant", len(ts))
	}
	return ts[0], nil
}
