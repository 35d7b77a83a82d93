package backoffice

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
)

// TestRefundsPages: the accountant refunds a pupil who left with a
// balance: the request empties the wallet, the approval writes a batch
// whose pain.001 file names the beneficiary, the IBAN and the amount, and a
// canteen worker cannot reach the page.
func TestRefundsPages(t *testing.T) {
	f := newKitchenFixture(t)
	if _, err := f.store.EnsureSchool(f.ctx, f.tenant, school.SchoolInput{Code: "tilleuls", Name: "École des Tilleuls",
		IBAN: "BE68539007547034", Beneficiary: "PO des Tilleuls"}); err != nil {
		t.Fatal(err)
	}
	adam := f.pupils["Adam"]
	bank, err := f.led.AccountByCode(f.ctx, f.tenant, school.AccountBank)
	if err != nil {
		t.Fatal(err)
	}
	amount := decimal.RequireFromString("17.60")
	if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "fund-adam", Kind: "bank-transfer", Actor: "test",
		Postings: []ledger.Posting{{AccountID: bank.ID, Amount: amount}, {AccountID: adam.WalletAccountID, Amount: amount.Neg()}}}); err != nil {
		t.Fatal(err)
	}
	in := school.PupilInput{SchoolID: adam.SchoolID, ClassID: adam.ClassID, FirstName: adam.FirstName, LastName: adam.LastName, Inactive: true}
	if _, err := f.store.UpdatePupil(f.ctx, f.tenant, adam.ID, in, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: "compta", Name: "Compta", Password: "compta-tartine-1",
		Roles: []school.Role{school.RoleAccountant}}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: "cantine", Name: "Cantine", Password: "cantine-tartine-1",
		Roles: []school.Role{school.RoleCanteen}}, "test"); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.login("cantine", "cantine-tartine-1").get("/admin/books/refunds"); st != http.StatusForbidden {
		t.Errorf("canteen staff on the refunds page: %d, want 403", st)
	}
	c := f.login("compta", "compta-tartine-1")
	st, page := c.get("/admin/books/refunds")
	if st != http.StatusOK || !strings.Contains(page, "Adam Vermeulen") || !strings.Contains(page, "17,60") {
		t.Fatalf("refunds page: %d, want Adam's 17,60 € to refund", st)
	}
	if st, page = c.follow("/admin/books/refunds", url.Values{"pupil": {fmt.Sprint(adam.ID)}, "beneficiary": {"Eva Vermeulen"},
		"iban": {"BE71 0961 2345 6760"}}); !strings.Contains(page, "IBAN ou nom du bénéficiaire invalide") {
		t.Errorf("bad IBAN: %d, want the refusal", st)
	}
	_, page = c.follow("/admin/books/refunds", url.Values{"pupil": {fmt.Sprint(adam.ID)}, "beneficiary": {"Eva Vermeulen"},
		"iban": {"BE71 0961 2345 6769"}, "reason": {"Solde au départ"}})
	if !strings.Contains(page, "Remboursement de 17,60") {
		t.Errorf("request: no confirmation")
	}
	if b, _ := f.led.Balance(f.ctx, f.tenant, adam.WalletAccountID); !b.Posted.IsZero() {
		t.Errorf("Adam's wallet after the request = %s, want 0", b.Posted)
	}
	refunds, err := f.fixture.bankRefunds(f.tenant)
	if err != nil || len(refunds) != 1 {
		t.Fatalf("refunds = %v, %v", refunds, err)
	}
	_, page = c.follow("/admin/books/refunds/approve", url.Values{"refund": {fmt.Sprint(refunds[0])}, "school": {fmt.Sprint(f.school)},
		"execution": {"2026-12-01"}})
	if !strings.Contains(page, "1 remboursement(s) approuvé(s)") {
		t.Fatalf("approval: no confirmation")
	}
	var batch int64
	if err := f.pool.QueryRow(f.ctx, `SELECT id FROM refund_batches WHERE tenant_id = $1`, f.tenant).Scan(&batch); err != nil {
		t.Fatal(err)
	}
	resp, file := c.getResp(fmt.Sprintf("/admin/books/refunds/batches/%d/pain001.xml", batch))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	for _, want := range []string{"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03", "<Nm>Eva Vermeulen</Nm>", "<IBAN>BE71096123456769</IBAN>",
		`<InstdAmt Ccy="EUR">17.60</InstdAmt>`, "<IBAN>BE68539007547034</IBAN>", "<Nm>PO des Tilleuls</Nm>", "<ReqdExctnDt>2026-12-01</ReqdExctnDt>"} {
		if !strings.Contains(file, want) {
			t.Errorf("pain.001 lacks %s", want)
		}
	}
	var audits int
	if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action IN ('refund.request', 'refund.approve')`, f.tenant).Scan(&audits); err != nil || audits != 2 {
		t.Errorf("%d refund audit entries, want 2 (%v)", audits, err)
	}
}

func (f *fixture) bankRefunds(tenant int64) ([]int64, error) {
	rows, err := f.pool.Query(f.ctx, `SELECT id FROM refunds WHERE tenant_id = $1 ORDER BY id`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
