package statements

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Content is the snapshot of a statement: everything every rendering
// shows, frozen at issue (stored as JSON with its SHA-256).
type Content struct {
	Number     string          `json:"number"`
	Version    int             `json:"version"`
	Changes    string          `json:"changes,omitempty"` // what a re-issue changed
	IssuedOn   time.Time       `json:"issued_on"`
	DueOn      time.Time       `json:"due_on"`
	Organiser  string          `json:"organiser"` // the organising body
	School     SchoolInfo      `json:"school"`
	Pupil      PupilInfo       `json:"pupil"`
	Period     PeriodInfo      `json:"period"`
	Lines      []Line          `json:"lines"`
	Services   []ServiceLine   `json:"services"`
	Previous   decimal.Decimal `json:"previous"`   // total due on the previous statement
	Fees       decimal.Decimal `json:"fees"`       // this statement's lines, credits subtracted
	Payments   decimal.Decimal `json:"payments"`   // received in the period
	WriteOffs  decimal.Decimal `json:"write_offs"` // written off in the period
	TotalDue   decimal.Decimal `json:"total_due"`  // Previous + Fees − Payments − WriteOffs (may be < 0: a credit)
	Facilities bool            `json:"facilities"` // TotalDue > 50 €: offer payment facilities
	Addressees []Addressee     `json:"addressees"` // every guardian; never the pupil
	Split      string          `json:"split"`      // none, equal or lines
	Payers     []Payer         `json:"payers"`
	// Instalments are the parts of accepted instalment plans due in the
	// period (plans.go).
	Instalments []Instalment `json:"instalments,omitempty"`
}

// SchoolInfo is who issues the statement and where to pay.
type SchoolInfo struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Address     string `json:"address"`
	IBAN        string `json:"iban"`
	BIC         string `json:"bic"`
	Beneficiary string `json:"beneficiary"`
	Contact     string `json:"contact"`
}

// PupilInfo names the pupil the statement is about.
type PupilInfo struct {
	ID        int64  `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Class     string `json:"class"`
	Level     string `json:"level"`
}

// PeriodInfo is the period covered.
type PeriodInfo struct {
	ID         int64     `json:"id"`
	SchoolYear string    `json:"school_year"`
	Seq        int       `json:"seq"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
}

// Line is one fee line on a statement.
type Line struct {
	ID       int64           `json:"id"` // fees line id
	Date     time.Time       `json:"date"`
	Object   string          `json:"object"`
	Category string          `json:"category"`
	Kind     string          `json:"kind"` // obligatoire or facultatif
	Amount   decimal.Decimal `json:"amount"`
	Credit   bool            `json:"credit,omitempty"`
}

// Signed is the line's effect on the amount due.
func (l Line) Signed() decimal.Decimal {
	if l.Credit {
		return l.Amount.Neg()
	}
	return l.Amount
}

// Services shown apart.
const (
	ServiceMeals   = "meals"
	ServiceDaycare = "daycare"
)

// ServiceLine is one service used in the period, paid from the wallet.
type ServiceLine struct {
	Service  string          `json:"service"` // ServiceMeals or ServiceDaycare
	Quantity int             `json:"quantity"`
	Total    decimal.Decimal `json:"total"`
}

// Addressee is a guardian the statement is sent to.
type Addressee struct {
	GuardianID int64  `json:"guardian_id"`
	Name       string `json:"name"`
	Address    string `json:"address,omitempty"`
}

// Payer is who pays what, with which structured communication (12
// digits). GuardianID 0: any guardian (the statement is not split).
type Payer struct {
	GuardianID int64           `json:"guardian_id"`
	Name       string          `json:"name,omitempty"`
	Amount     decimal.Decimal `json:"amount"`
	OGM        string          `json:"ogm"`
}

// FacilitiesThreshold is the total over which a statement offers payment
// facilities (RuleFacilities).
var FacilitiesThreshold = decimal.NewFromInt(50)

// encode returns the stored JSON and its SHA-256.
func (c Content) encode() ([]byte, []byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, nil, fmt.Errorf("encode statement %s: %w", c.Number, err)
	}
	h := sha256.Sum256(b)
	return b, h[:], nil
}

// Hash is the SHA-256 of the content's canonical JSON.
func (c Content) Hash() []byte {
	_, h, _ := c.encode()
	return h
}

// sameAs reports whether two contents claim the same things (ignoring
// number, version, changes, dates of issue and communications).
func (c Content) sameAs(o Content) bool {
	strip := func(x Content) Content {
		x.Number, x.Version, x.Changes, x.IssuedOn, x.DueOn = "", 0, "", time.Time{}, time.Time{}
		x.Payers = append([]Payer(nil), x.Payers...)
		for i := range x.Payers {
			x.Payers[i].OGM = ""
		}
		return x
	}
	a, _, _ := strip(c).encode()
	b, _, _ := strip(o).encode()
	return string(a) == string(b)
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
