package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tartine/ledger"
)

// TestRefunds: a leaving pupil's balance and a transfer waiting in
// suspense are refunded: each request moves its money to refunds-payable at
// once (the wallet is empty, the movement can no longer be allocated); the
// accountant approves a batch whose pain.001 file names both; the bank
// statement that shows one leaving books refunds-payable → bank and marks it
// paid, once, however often the file is imported; the other stays payable.
func TestRefunds(t *testing.T) {
	b := newBankEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	bank, err := account(ctx, b.ledger, b.tenant, CodeBank)
	if err != nil {
		t.Fatal(err)
	}
	// Zoé leaves with 12,34 € on her wallet.
	zoe, wallet := addPupil(t, b.pool, b.ledger, b.tenant, "Zoé", "")
	if _, err := b.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: b.tenant, IdempotencyKey: "fund-zoe", Kind: "bank-transfer", Actor: "test",
		Postings: []ledger.Posting{{AccountID: bank, Amount: dec("12.34")}, {AccountID: wallet, Amount: dec("-12.34")}}}); err != nil {
		t.Fatal(err)
	}
	// An 80 € transfer nobody can place waits in suspense.
	if _, err := b.bank.ImportCODA(ctx, b.tenant, codaFile(t, "two_statements_crlf.cod"), ""); err != nil {
		t.Fatal(err)
	}
	waiting, err := b.bank.Unallocated(ctx, b.tenant)
	if err != nil || len(waiting) != 1 {
		t.Fatalf("unallocated = %+v, %v", waiting, err)
	}

	// Refusals first: nothing moves.
	for _, tc := range []struct {
		name string
		req  RefundRequest
		want error
	}{
		{"bad IBAN", RefundRequest{PupilID: zoe, Beneficiary: "Julie Lambert", IBAN: "BE71096123456760"}, ErrRefundIBAN},
		{"no name", RefundRequest{PupilID: zoe, Beneficiary: " ", IBAN: "BE71096123456769"}, ErrRefundIBAN},
		{"two sources", RefundRequest{PupilID: zoe, MovementKey: waiting[0].Key, Beneficiary: "X", IBAN: "BE71096123456769"}, ErrInvalidRequest},
	} {
		tc.req.TenantID, tc.req.Actor = b.tenant, "staff:9"
		if _, err := b.bank.RequestRefund(ctx, tc.req, now); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	r1, err := b.bank.RequestRefund(ctx, RefundRequest{TenantID: b.tenant, PupilID: zoe, Beneficiary: "Julie Lambert",
		IBAN: "BE71 0961 2345 6769", Reason: "départ de Zoé", Actor: "staff:9"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Amount.Equal(dec("12.34")) || r1.Status != RefundRequested {
		t.Errorf("refund = %+v, want 12.34 requested", r1)
	}
	if got := b.balance(t, wallet); !got.IsZero() {
		t.Errorf("Zoé's wallet after the request = %s, want 0", got)
	}
	if _, err := b.bank.RequestRefund(ctx, RefundRequest{TenantID: b.tenant, PupilID: zoe, Beneficiary: "Julie Lambert",
		IBAN: "BE71096123456769", Actor: "staff:9"}, now); !errors.Is(err, ErrRefundNothing) {
		t.Errorf("second refund of an empty wallet: %v, want ErrRefundNothing", err)
	}
	r2, err := b.bank.RequestRefund(ctx, RefundRequest{TenantID: b.tenant, MovementKey: waiting[0].Key, Beneficiary: "Marc Janssens",
		IBAN: "NL91ABNA0417164300", Reason: "virement sans référence", Actor: "staff:9"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := b.bank.Unallocated(ctx, b.tenant); len(list) != 0 {
		t.Errorf("a refunded movement is still offered for allocation")
	}
	if _, err := b.bank.Allocate(ctx, b.tenant, waiting[0].Key, zoe, "staff:9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("allocating a refunded movement: %v, want ErrNotFound", err)
	}
	if got := b.codeBalance(t, CodeRefundsPayable); !got.Equal(dec("92.34")) {
		t.Errorf("refunds-payable = %s, want 92.34", got)
	}
	if got := b.codeBalance(t, CodeSuspense); !got.IsZero() {
		t.Errorf("suspense = %s, want 0", got)
	}

	// The accountant approves both in one batch.
	exec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	batch, err := b.bank.ApproveRefunds(ctx, BatchRequest{TenantID: b.tenant, RefundIDs: []int64{r1.ID, r2.ID, 999}, DebtorName: "PO École Saint-Joseph",
		DebtorIBAN: "BE68539007547034", ExecutionDate: exec, Actor: "staff:10"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if batch.Count != 2 || !batch.Total.Equal(dec("92.34")) {
		t.Errorf("batch = %d refunds, %s; want 2, 92.34", batch.Count, batch.Total)
	}
	file := string(batch.File)
	for _, want := range []string{"<NbOfTxs>2</NbOfTxs>", "<CtrlSum>92.34</CtrlSum>", fmt.Sprintf("<EndToEndId>TARTINE-R-%d</EndToEndId>", r1.ID),
		"<IBAN>BE71096123456769</IBAN>", "<IBAN>NL91ABNA0417164300</IBAN>", "<Nm>Julie Lambert</Nm>", "depart de Zoe"} {
		if !strings.Contains(file, want) {
			t.Errorf("pain.001 lacks %s", want)
		}
	}
	if _, err := b.bank.ApproveRefunds(ctx, BatchRequest{TenantID: b.tenant, RefundIDs: []int64{r1.ID}, DebtorName: "PO",
		DebtorIBAN: "BE68539007547034", ExecutionDate: exec, Actor: "staff:10"}, now); !errors.Is(err, ErrRefundBatch) {
		t.Errorf("approving an approved refund again: %v, want ErrRefundBatch", err)
	}
	got, err := b.bank.RefundBatchFile(ctx, b.tenant, batch.ID)
	if err != nil || string(got.File) != file {
		t.Errorf("stored file differs: %v", err)
	}

	// The statement shows 12,34 € leaving with the end-to-end id: paid.
	bankBefore := b.codeBalance(t, CodeBank)
	coda := codaFile(t, "statement_ogm.cod")
	comm := fmt.Sprintf("%-53s", fmt.Sprintf("/E2E/ TARTINE-R-%d remboursement", r1.ID))
	coda = setCODA(t, coda, 6, 63, comm)
	for i := range 2 {
		rep, err := b.bank.ImportCODA(ctx, b.tenant, coda, "staff:10")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (len(rep.Refunds) != 1 || !rep.RefundsTotal.Equal(dec("12.34")) || len(rep.Skipped) != 0) {
			t.Errorf("import: refunds %+v skipped %+v, want the refund matched", rep.Refunds, rep.Skipped)
		}
		if i == 1 && len(rep.Refunds) != 0 {
			t.Errorf("re-import matched the refund again")
		}
	}
	// The statement also credits 65 € (25 to Alice, 40 to suspense): bank moves by 65 − 12.34.
	if got := b.codeBalance(t, CodeBank).Sub(bankBefore); !got.Equal(dec("52.66")) {
		t.Errorf("bank moved by %s, want 52.66", got)
	}
	if got := b.codeBalance(t, CodeRefundsPayable); !got.Equal(dec("80")) {
		t.Errorf("refunds-payable = %s, want 80 (the other refund not seen leaving yet)", got)
	}
	list, err := b.bank.Refunds(ctx, b.tenant)
	if err != nil {
		t.Fatal(err)
	}
	status := map[int64]string{}
	for _, r := range list {
		status[r.ID] = r.Status
	}
	if status[r1.ID] != RefundPaid || status[r2.ID] != RefundApproved {
		t.Errorf("statuses = %v, want %d paid and %d approved", status, r1.ID, r2.ID)
	}
	b.verify(t)
}
