package statements

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
)

func benchContent() Content {
	d := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	return Content{Number: "ST-2026-000001", Version: 1, IssuedOn: day(2026, 11, 3), DueOn: day(2026, 12, 3), Organiser: "PO de Namur",
		School: SchoolInfo{Name: "École Saint-Aubain", Address: "Rue de l'Été 1, 5000 Namur", IBAN: "BE68539007547034", BIC: "GKCCBEBB", Beneficiary: "ASBL École", Contact: "Mme Noël"},
		Pupil:  PupilInfo{ID: 1, FirstName: "Zoé", LastName: "Lefèvre", Class: "P4A", Level: "P4"},
		Period: PeriodInfo{ID: 1, SchoolYear: "2026-27", Seq: 1, From: day(2026, 9, 1), To: day(2026, 10, 31)},
		Lines: []Line{{ID: 1, Date: day(2026, 9, 15), Object: "Piscine", Category: "piscine", Kind: "obligatoire", Amount: d("36")},
			{ID: 2, Date: day(2026, 10, 2), Object: "Théâtre", Category: "activites", Kind: "obligatoire", Amount: d("18.50")}},
		Services: []ServiceLine{{Service: ServiceMeals, Quantity: 31, Total: d("114.70")}},
		Fees:     d("54.50"), TotalDue: d("54.50"), Facilities: true,
		Addressees: []Addressee{{GuardianID: 1, Name: "Anne Lefèvre"}}, Split: "none",
		Payers: []Payer{{Amount: d("54.50"), OGM: "001000012305"}}}
}

func BenchmarkPDF(b *testing.B) {
	cat, err := i18n.New()
	if err != nil {
		b.Fatal(err)
	}
	svc := &Service{Catalog: cat, now: time.Now}
	c := benchContent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.PDF(c, "fr"); err != nil {
			b.Fatal(err)
		}
	}
}
