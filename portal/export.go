package portal

import (
	"archive/zip"
	"bytes"
	"context"

	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/spreadsheet"
	"tartine/ledger"
	"tartine/school"
)

// familyExport is everything the portal holds about a family (GDPR access).
type familyExport struct {
	GeneratedAt time.Time        `json:"generated_at"`
	Account     exportAccount    `json:"account"`
	Guardians   []exportGuardian `json:"guardians"`
	Pupils      []exportPupil    `json:"pupils"`
}

type exportAccount struct {
	Email               string `json:"email"`
	Language            string `json:"language"`
	LowBalanceThreshold string `json:"low_balance_threshold"`
	LowBalanceAlert     bool   `json:"low_balance_alert"`
}

type exportGuardian struct {
	TenantID  int64  `json:"tenant_id"`
	ID        int64  `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	Address   string `json:"address"`
	Language  string `json:"language"`
}

type exportPupil struct {
	TenantID     int64                  `json:"tenant_id"`
	ID           int64                  `json:"id"`
	FirstName    string                 `json:"first_name"`
	LastName     string                 `json:"last_name"`
	BirthDate    string                 `json:"birth_date,omitempty"`
	School       string                 `json:"school"`
	Level        string                 `json:"level"`
	Diet         []string               `json:"diet"`
	Allergens    []string               `json:"allergens"`
	AllergyNotes string                 `json:"allergy_notes"`
	FreeMeals    bool                   `json:"free_meals"`
	PhotoConsent bool                   `json:"photo_consent"`
	WalletOGM    string                 `json:"wallet_structured_communication"`
	Bookings     []booking.Booking      `json:"bookings"`
	Wallet       []ledger.StatementLine `json:"wallet_history"`
}

func (a *App) buildExport(ctx context.Context, acct *account) (familyExport, error) {
	ex := familyExport{GeneratedAt: a.Now(), Account: exportAccount{Email: acct.Email, Language: acct.Language,
		LowBalanceThreshold: acct.Threshold.StringFixed(2), LowBalanceAlert: acct.Alert}}
	guardians, err := a.School.FamilyGuardians(ctx, acct.family)
	if err != nil {
		return ex, err
	}
	ex.Guardians = make([]exportGuardian, 0, len(guardians))
	for _, g := range guardians {
		ex.Guardians = append(ex.Guardians, exportGuardian{TenantID: g.TenantID, ID: g.ID, FirstName: g.FirstName, LastName: g.LastName,
			Email: g.Email, Phone: g.Phone, Address: g.Address, Language: g.Language})
	}
	kids, err := a.childrenAll(ctx, acct) // inactive children too: the export is everything held
	if err != nil {
		return ex, err
	}
	records, err := a.School.FamilyPupilRecords(ctx, acct.family)
	if err != nil {
		return ex, err
	}
	byRef := make(map[[2]int64]school.Pupil, len(records))
	for _, r := range records {
		byRef[[2]int64{r.TenantID, r.ID}] = r
	}
	far := a.Now().AddDate(2, 0, 0)
	for _, k := range kids {
		p := exportPupil{TenantID: k.TenantID, ID: k.ID, FirstName: k.FirstName, LastName: k.LastName, School: k.SchoolName, Level: k.Level, WalletOGM: k.OGM}
		r, ok := byRef[[2]int64{k.TenantID, k.ID}]
		if !ok {
			return ex, fmt.Errorf("portal: export: pupil %d of tenant %d not read", k.ID, k.TenantID)
		}
		p.Diet, p.Allergens = make([]string, len(r.Diet)), make([]string, len(r.Allergens))
		for i, d := range r.Diet {
			p.Diet[i] = string(d)
		}
		for i, al := range r.Allergens {
			p.Allergens[i] = string(al)
		}
		p.AllergyNotes, p.FreeMeals, p.PhotoConsent = r.AllergyNotes, r.FreeMeals, r.PhotoConsent
		if !r.BirthDate.IsZero() {
			p.BirthDate = r.BirthDate.Format("2006-01-02")
		}
		if p.Bookings, err = a.Booking.Bookings(ctx, k.TenantID, k.ID, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), far); err != nil {
			return ex, err
		}
		if k.WalletID != 0 {
			st, err := a.Ledger.Statement(ctx, k.TenantID, k.WalletID, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), far)
			if err != nil {
				return ex, err
			}
			p.Wallet = st.Lines
		}
		ex.Pupils = append(ex.Pupils, p)
	}
	return ex, nil
}

// export serves family.zip: family.json plus one CSV per table.
func (a *App) export(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	ex, err := a.buildExport(c.Request.Context(), acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	write := func(name string, fill func(w *spreadsheet.Writer)) error {
		f, err := z.Create(name)
		if err != nil {
			return err
		}
		f.Write([]byte("\ufeff")) // BOM: spreadsheets read UTF-8
		w := spreadsheet.NewWriter(f)
		w.Comma = ';'
		fill(w)
		w.Flush()
		return w.Error()
	}
	f, err := z.Create("family.json")
	if err == nil {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		err = enc.Encode(ex)
	}
	if err == nil {
		err = write("guardians.csv", func(w *spreadsheet.Writer) {
			w.Write([]string{"tenant_id", "id", "first_name", "last_name", "email", "phone", "address", "language"})
			for _, g := range ex.Guardians {
				w.Write([]string{itoa(g.TenantID), itoa(g.ID), g.FirstName, g.LastName, g.Email, g.Phone, g.Address, g.Language})
			}
		})
	}
	if err == nil {
		err = write("pupils.csv", func(w *spreadsheet.Writer) {
			w.Write([]string{"tenant_id", "id", "first_name", "last_name", "birth_date", "school", "level", "diet", "allergens", "allergy_notes", "free_meals", "photo_consent", "structured_communication"})
			for _, p := range ex.Pupils {
				w.Write([]string{itoa(p.TenantID), itoa(p.ID), p.FirstName, p.LastName, p.BirthDate, p.School, p.Level,
					fmt.Sprint(p.Diet), fmt.Sprint(p.Allergens), p.AllergyNotes, fmt.Sprint(p.FreeMeals), fmt.Sprint(p.PhotoConsent), p.WalletOGM})
			}
		})
	}
	if err == nil {
		err = write("bookings.csv", func(w *spreadsheet.Writer) {
			w.Write([]string{"pupil_id", "booking_id", "day", "service", "status", "price", "booked_by", "booked_at"})
			for _, p := range ex.Pupils {
				for _, b := range p.Bookings {
					w.Write([]string{itoa(p.ID), itoa(b.ID), b.Day.Format("2006-01-02"), string(b.Service), string(b.Status), b.Price.StringFixed(2), b.BookedBy, b.BookedAt.Format(time.RFC3339)})
				}
			}
		})
	}
	if err == nil {
		err = write("wallet.csv", func(w *spreadsheet.Writer) {
			w.Write([]string{"pupil_id", "transfer_id", "occurred_at", "kind", "memo", "amount", "balance"})
			for _, p := range ex.Pupils {
				for _, l := range p.Wallet {
					w.Write([]string{itoa(p.ID), itoa(l.TransferID), l.OccurredAt.Format(time.RFC3339), l.Kind, l.Memo, l.Amount.StringFixed(2), l.Balance.StringFixed(2)})
				}
			}
		})
	}
	if err == nil {
		err = z.Close()
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="tartine-famille.zip"`)
	c.Data(http.StatusOK, "application/zip", buf.Bytes())
}
