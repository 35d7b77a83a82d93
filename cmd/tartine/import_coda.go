package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"tartine/internal/i18n"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
	"tartine/statements"
)

// cmdImportCODA runs `tartine import coda FILE [--tenant CODE]`: books the
// bank transfers of a CODA statement file (payments.Bank.ImportCODA) and
// prints what went to wallets and what waits in suspense.
func cmdImportCODA(ctx context.Context, e env, args []string) error {
	fs, df := dbFlagSet(e, "import coda", "./var/pg")
	tenantCode := tenantFlag(fs)
	file, err := parseFileArgs(e, fs, args, "tartine import coda FILE [--tenant CODE]")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("import coda: %w", err)
	}
	log := newLogger(e)
	d, err := openCurrent(ctx, e, *df, log, false)
	if err != nil {
		return err
	}
	defer d.Close()
	l := ledger.New(d.Pool, time.Now)
	store := school.New(d.Pool, l, time.Now)
	ten, err := tenantByFlag(ctx, store, *tenantCode)
	if err != nil {
		return fmt.Errorf("import coda: %w", err)
	}
	// A statement's communication pays its fees.
	bank := payments.NewBank(l, log, payments.WithStatements(statements.New(store, nil, time.Now).BankLookup))
	rep, err := bank.ImportCODA(ctx, ten.ID, data, "cli")
	if errors.Is(err, payments.ErrBadFile) {
		fmt.Fprintf(e.stderr, "import coda: %s: %v\n", file, err)
		return exitCode(1)
	}
	if err != nil {
		return fmt.Errorf("import coda: %w", err)
	}
	fmt.Fprintf(e.stdout, "importé : %s, %d extrait(s)\n", file, rep.Statements)
	fmt.Fprintf(e.stdout, "  portefeuilles crédités : %d virement(s), %s\n", len(rep.Credited), i18n.FormatEUR(rep.CreditedTotal, i18n.FR))
	for _, m := range rep.Credited {
		fmt.Fprintf(e.stdout, "    %s  %s  élève %d  %s\n", m.EntryDate.Format("02/01/2006"), i18n.FormatEUR(m.Amount, i18n.FR), m.PupilID, m.CounterpartyName)
	}
	fmt.Fprintf(e.stdout, "  à affecter à la main (compte d'attente 499) : %d virement(s), %s\n", len(rep.Suspense), i18n.FormatEUR(rep.SuspenseTotal, i18n.FR))
	for _, m := range rep.Suspense {
		hint := ""
		if m.SuggestedPupilID != 0 {
			hint = fmt.Sprintf("  (suggestion : élève %d)", m.SuggestedPupilID)
		}
		fmt.Fprintf(e.stdout, "    %s  %s  %s  « %s »  [%s]%s\n", m.EntryDate.Format("02/01/2006"), i18n.FormatEUR(m.Amount, i18n.FR), m.CounterpartyName, m.Communication, m.Key, hint)
	}
	fmt.Fprintf(e.stdout, "  déjà importés : %d ; débits ignorés : %d\n", rep.AlreadyImported, len(rep.Skipped))
	return nil
}
