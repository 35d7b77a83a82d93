package i18n

import (
	"fmt"
	"time"
)

var months = map[string][12]string{
	FR: {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	EN: {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	NL: {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
}

var weekdays = map[string][7]string{
	FR: {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
	EN: {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
	NL: {"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
}

// formatLang returns lang when its names are known, French otherwise.
func formatLang(lang string) string {
	if _, ok := months[lang]; ok {
		return lang
	}
	return Default
}

// MonthName returns the name of month m in lang ("novembre", "November"),
// French for an unknown language, and "%!Month(n)" for an invalid month.
func MonthName(m time.Month, lang string) string {
	if m < time.January || m > time.December {
		return fmt.Sprintf("%%!Month(%d)", int(m))
	}
	return months[formatLang(lang)][m-1]
}

// WeekdayName returns the name of weekday d in lang ("lundi", "Monday").
func WeekdayName(d time.Weekday, lang string) string {
	if d < time.Sunday || d > time.Saturday {
		return fmt.Sprintf("%%!Weekday(%d)", int(d))
	}
	return weekdays[formatLang(lang)][d]
}

// FormatDate writes a date in full: "lundi 30 novembre 2026" (fr, with "1er"
// for the first of a month), "Monday 30 November 2026" (en), "maandag 30
// november 2026" (nl).
func FormatDate(t time.Time, lang string) string {
	lang = formatLang(lang)
	day := fmt.Sprint(t.Day())
	if lang == FR && t.Day() == 1 {
		day = "1er"
	}
	return fmt.Sprintf("%s %s %s %d", WeekdayName(t.Weekday(), lang), day, MonthName(t.Month(), lang), t.Year())
}

// FormatDateShort writes a date as "30/11/2026" (the same in every language).
func FormatDateShort(t time.Time, lang string) string {
	return t.Format("02/01/2006")
}

// FormatTime writes a time of day on 24 hours as "11:52".
func FormatTime(t time.Time, lang string) string {
	return t.Format("15:04")
}
