package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/ledger"
	"tartine/school"
	"tartine/statements"
)

// cmdStatements runs `tartine statements run --period 2026-27/1
// [--dry-run] [--send --portal-url URL] [--tenant CODE]`: previews, issues
// and optionally emails the periodic statements of a period, with a
// progress line when stderr is a terminal.
func cmdStatements(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(e.stderr, "usage: tartine statements run --period 2026-27/1 [--dry-run] [--pdf-dir DIR] [--send --portal-url URL] [--tenant CODE]")
		return exitCode(2)
	}
	fs, df := dbFlagSet(e, "statements run", "./var/pg")
	period := fs.String("period", "", "period as SCHOOL-YEAR/N, e.g. 2026-27/1 (required)")
	dryRun := fs.Bool("dry-run", false, "preview only: count, totals, skipped pupils; write nothing")
	send := fs.Bool("send", false, "email each statement's link to its guardians after issuing")
	portalURL := fs.String("portal-url", "", "portal base URL for the links in the emails (default BASE_URL + /portal)")
	tenantCode := tenantFlag(fs)
	actor := fs.String("actor", "cli", "who issues, for the audit log")
	pdfDir := fs.String("pdf-dir", "", "also write each statement's A4 PDF in this directory (for the guardians without email)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	if *period == "" {
		fmt.Fprintln(e.stderr, "statements run: --period is required (e.g. 2026-27/1)")
		return exitCode(2)
	}
	log := newLogger(e)
	d, err := openCurrent(ctx, e, *df, log, false)
	if err != nil {
		return err
	}
	defer d.Close()
	l := ledger.New(d.Pool, e.now)
	store := school.New(d.Pool, l, e.now)
	ten, err := tenantByFlag(ctx, store, *tenantCode)
	if err != nil {
		return fmt.Errorf("statements run: %w", err)
	}
	cat, err := i18n.New()
	if err != nil {
		return err
	}
	opts := []statements.Option{statements.WithLog(log)}
	if mcfg, ok, err := mail.ConfigFromEnv(e.getenv); err != nil {
		return err
	} else if ok {
		smtp, err := mail.NewSMTP(mcfg, e.now)
		if err != nil {
			return err
		}
		opts = append(opts, statements.WithMail(smtp))
	}
	svc := statements.New(store, cat, e.now, opts...)
	p, err := svc.PeriodByLabel(ctx, ten.ID, *period)
	if err != nil {
		return fmt.Errorf("statements run: %w", err)
	}
	pv, err := svc.Preview(ctx, ten.ID, p.ID)
	if err != nil {
		return fmt.Errorf("statements run: %w", err)
	}
	fmt.Fprintf(e.stdout, "période %s (%s – %s)\n", p.Label(), p.From.Format("02/01/2006"), p.To.Format("02/01/2006"))
	fmt.Fprintf(e.stdout, "  décomptes à émettre : %d, total %s ; %d avec l'offre de facilités (> 50 €)\n", len(pv.Statements), i18n.FormatEUR(pv.Total, i18n.FR), pv.Facilities)
	fmt.Fprintf(e.stdout, "  déjà émis pour la période : %d\n", pv.Existing)
	for _, s := range pv.Skipped {
		fmt.Fprintf(e.stdout, "  non émis : élève %d %s (aucun responsable : jamais envoyé à l'élève)\n", s.PupilID, s.Name)
	}
	if !pv.EstimateSent {
		fmt.Fprintf(e.stdout, "  attention : l'estimation des frais %s n'a jamais été envoyée ; l'émission sera refusée\n", p.SchoolYear)
	}
	if *dryRun {
		fmt.Fprintln(e.stdout, "  --dry-run : rien n'a été écrit")
		return nil
	}
	bar := progressBar(e.stderr)
	start := time.Now()
	run, err := svc.Issue(ctx, ten.ID, p.ID, *actor, bar("émission"))
	if err != nil {
		return fmt.Errorf("statements run: %w", err)
	}
	fmt.Fprintf(e.stdout, "  émis : %d décompte(s), total %s, lot %d (%.1f s)\n", run.Statements, i18n.FormatEUR(run.Total, i18n.FR), run.ID, time.Since(start).Seconds())
	if *pdfDir != "" {
		if err := os.MkdirAll(*pdfDir, 0o750); err != nil {
			return fmt.Errorf("statements run: %w", err)
		}
		n, progress := 0, bar("pdf")
		err := svc.RenderRun(ctx, ten.ID, run.ID, 0, "fr", func(st statements.Statement, pdf []byte) error {
			n++
			if progress != nil {
				progress(n, run.Statements)
			}
			return os.WriteFile(filepath.Join(*pdfDir, fmt.Sprintf("%s-v%d.pdf", st.Number, st.Version)), pdf, 0o640)
		})
		if err != nil {
			return fmt.Errorf("statements run: %w", err)
		}
		fmt.Fprintf(e.stdout, "  PDF : %d fichier(s) dans %s\n", n, *pdfDir)
	}
	if !*send {
		fmt.Fprintln(e.stdout, "  envoi : non demandé (--send)")
		return nil
	}
	url := *portalURL
	if url == "" {
		url = e.getenv("BASE_URL") + "/portal"
	}
	rep, err := svc.Send(ctx, ten.ID, run.ID, url, *actor, bar("envoi"))
	if err != nil {
		return fmt.Errorf("statements run: send: %w", err)
	}
	fmt.Fprintf(e.stdout, "  envoyés : %d courriel(s) ; sans adresse : %d ; échecs : %d\n", rep.Sent, rep.NoEmail, rep.Failed)
	return nil
}

// progressBar returns, for a step name, a statements.Progress that redraws
// one line on w when w is a terminal, and nothing otherwise.
func progressBar(w io.Writer) func(step string) statements.Progress {
	f, ok := w.(*os.File)
	if !ok {
		return func(string) statements.Progress { return nil }
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return func(string) statements.Progress { return nil }
	}
	return func(step string) statements.Progress {
		return func(done, total int) {
			const width = 30
			n := width * done / max(total, 1)
			bar := make([]byte, width)
			for i := range bar {
				bar[i] = '.'
				if i < n {
					bar[i] = '#'
				}
			}
			fmt.Fprintf(f, "\r  %-9s [%s] %d/%d", step, bar, done, total)
			if done == total {
				fmt.Fprintln(f)
			}
		}
	}
}
