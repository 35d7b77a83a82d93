package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"tartine/ledger"
	"tartine/school"
)

// cmdImport runs `tartine import pupils FILE.csv [--dry-run] [--tenant CODE]
// [--school CODE]` (columns in docs/IMPORT.md).
func cmdImport(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "coda" {
		return cmdImportCODA(ctx, e, args[1:])
	}
	if len(args) == 0 || args[0] != "pupils" {
		fmt.Fprintln(e.stderr, "usage: tartine import pupils FILE.csv [--dry-run] [--tenant CODE] [--school CODE]\n       tartine import coda FILE [--tenant CODE]")
		return exitCode(2)
	}
	fs, df := dbFlagSet(e, "import pupils", "./var/pg")
	dry := fs.Bool("dry-run", false, "validate and report what would change; write nothing")
	tenantCode := tenantFlag(fs)
	schoolCode := fs.String("school", "", "school code (default: the tenant's only school)")
	file, err := parseFileArgs(e, fs, args[1:], "tartine import pupils FILE.csv [--dry-run] [--tenant CODE] [--school CODE]")
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import pupils: %w", err)
	}
	defer f.Close()

	d, err := openCurrent(ctx, e, *df, newLogger(e), false)
	if err != nil {
		return err
	}
	defer d.Close()
	store := school.New(d.Pool, ledger.New(d.Pool, time.Now), time.Now)
	ten, sc, err := importTarget(ctx, store, *tenantCode, *schoolCode)
	if err != nil {
		return fmt.Errorf("import pupils: %w", err)
	}
	start := time.Now()
	rep, err := store.ImportPupils(ctx, f, school.ImportOptions{
		TenantID: ten.ID, SchoolID: sc.ID, DryRun: *dry, Actor: "cli",
		Progress: func(done, total int) { fmt.Fprintf(e.stderr, "  %d / %d lignes\n", done, total) },
	})
	for _, w := range rep.Warnings {
		fmt.Fprintf(e.stderr, "attention : %s\n", w)
	}
	var ie *school.ImportError
	if errors.As(err, &ie) {
		fmt.Fprintln(e.stderr, ie.Error())
		return exitCode(1)
	}
	if err != nil {
		return fmt.Errorf("import pupils: %w", err)
	}
	verb := "importé"
	if rep.DryRun {
		verb = "simulation (rien n'est enregistré)"
	}
	fmt.Fprintf(e.stdout, "%s : %s, école %s, %s, séparateur %q, %d ligne(s) en %s\n", verb, file, sc.Code, rep.Encoding, rep.Delimiter, rep.Rows, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "  élèves : %d créé(s), %d mis à jour, %d inchangé(s)\n", rep.PupilsCreated, rep.PupilsUpdated, rep.PupilsUnchanged)
	fmt.Fprintf(e.stdout, "  classes créées : %d ; responsables : %d créé(s), %d mis à jour ; liens ajoutés : %d\n",
		rep.ClassesCreated, rep.GuardiansCreated, rep.GuardiansUpdated, rep.LinksCreated)
	return nil
}

// importTarget resolves the tenant and school codes, defaulting to the only
// one.
func importTarget(ctx context.Context, store *school.Store, tenantCode, schoolCode string) (school.Tenant, school.School, error) {
	ten, err := tenantByFlag(ctx, store, tenantCode)
	if err != nil {
		return ten, school.School{}, err
	}
	if schoolCode != "" {
		sc, err := store.SchoolByCode(ctx, ten.ID, schoolCode)
		return ten, sc, err
	}
	scs, err := store.Schools(ctx, ten.ID)
	if err != nil {
		return ten, school.School{}, err
	}
	if len(scs) != 1 {
		return ten, school.School{}, fmt.Errorf("%d schools in %s: choose one with --school", len(scs), ten.Code)
	}
	return ten, scs[0], nil
}
