package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the machine's zoneinfo
)

// Expected fire times are written as "Mon 2006-01-02T15:04:05Z07:00": the
// weekday, the wall clock in the schedule's location and its UTC offset. The
// weekday is part of the expectation and is itself checked against the
// calendar, so a wrong hand computation fails loudly.
const wantLayout = "Mon 2006-01-02T15:04:05Z07:00"

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func mustParse(t testing.TB, expr string) *Cron {
	t.Helper()
	c, err := ParseCron(expr)
	if err != nil {
		t.Fatalf("ParseCron(%q): %v", expr, err)
	}
	return c
}

func rfc3339(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad time %q in test: %v", s, err)
	}
	return tm
}

// checkTimes compares got with want, given in wantLayout.
func checkTimes(t *testing.T, got []time.Time, want []string) {
	t.Helper()
	for i, w := range want {
		wd, rest, _ := strings.Cut(w, " ")
		wt := rfc3339(t, rest)
		if wt.Weekday().String()[:3] != wd {
			t.Errorf("test expectation %q: %s is a %s", w, rest, wt.Weekday())
		}
		if i >= len(got) {
			t.Errorf("fire %d: missing, want %s", i, w)
			continue
		}
		if g := got[i].Format(wantLayout); g != w || !got[i].Equal(wt) {
			t.Errorf("fire %d: got %s, want %s", i, g, w)
		}
	}
	for i := len(want); i < len(got); i++ {
		t.Errorf("fire %d: unexpected %s", i, got[i].Format(wantLayout))
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		expr string
		loc  string // "" = UTC
		from string // RFC 3339
		n    int    // fire times to ask for; 0 = len(want)
		want []string
	}{
		// Quartz.
		{
			name: "every 5 minutes", expr: "0 0/5 * * * ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Thu 2026-01-01T00:05:00Z", "Thu 2026-01-01T00:10:00Z", "Thu 2026-01-01T00:15:00Z"},
		},
		{
			name: "every 5 minutes into a new year", expr: "0 0/5 * * * ?", from: "2026-12-31T23:57:30Z",
			want: []string{"Fri 2027-01-01T00:00:00Z", "Fri 2027-01-01T00:05:00Z"},
		},
		{
			name: "weekdays cross a weekend", expr: "0 15 10 ? * MON-FRI", from: "2026-01-15T11:00:00Z",
			want: []string{"Fri 2026-01-16T10:15:00Z", "Mon 2026-01-19T10:15:00Z", "Tue 2026-01-20T10:15:00Z"},
		},
		{
			name: "weekdays: strictly after a fire time", expr: "0 15 10 ? * MON-FRI", from: "2026-01-16T10:15:00Z",
			want: []string{"Mon 2026-01-19T10:15:00Z"},
		},
		{
			name: "last day of month, leap year", expr: "0 0 12 L * ?", from: "2024-01-31T11:59:59Z",
			want: []string{"Wed 2024-01-31T12:00:00Z", "Thu 2024-02-29T12:00:00Z", "Sun 2024-03-31T12:00:00Z", "Tue 2024-04-30T12:00:00Z"},
		},
		{
			name: "last day of month, common year", expr: "0 0 12 L * ?", from: "2026-01-31T12:00:00Z",
			want: []string{"Sat 2026-02-28T12:00:00Z", "Tue 2026-03-31T12:00:00Z"},
		},
		{
			// Quartz computes L-n as last day minus n: L-2 in January is the 29th.
			name: "L-2", expr: "0 0 12 L-2 * ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Thu 2026-01-29T12:00:00Z", "Thu 2026-02-26T12:00:00Z", "Sun 2026-03-29T12:00:00Z"},
		},
		{
			name: "L-2 in a leap February", expr: "0 0 12 L-2 * ?", from: "2028-02-01T00:00:00Z",
			want: []string{"Sun 2028-02-27T12:00:00Z"},
		},
		{
			// 15 Feb and 15 Mar 2026 are Sundays, 15 Apr a Wednesday.
			name: "15W: Sunday moves to Monday", expr: "0 0 12 15W * ?", from: "2026-02-01T00:00:00Z",
			want: []string{"Mon 2026-02-16T12:00:00Z", "Mon 2026-03-16T12:00:00Z", "Wed 2026-04-15T12:00:00Z"},
		},
		{
			// 15 Aug 2026 is a Saturday.
			name: "15W: Saturday moves to Friday", expr: "0 0 12 15W * ?", from: "2026-08-01T00:00:00Z",
			want: []string{"Fri 2026-08-14T12:00:00Z", "Tue 2026-09-15T12:00:00Z"},
		},
		{
			name: "15W: fires once a month", expr: "0 0 12 15W * ?", from: "2026-08-14T12:00:00Z",
			want: []string{"Tue 2026-09-15T12:00:00Z"},
		},
		{
			// 1 Aug 2026 is a Saturday: Monday the 3rd, not Friday 31 July.
			name: "1W on a Saturday", expr: "0 0 12 1W * ?", from: "2026-07-02T00:00:00Z",
			want: []string{"Mon 2026-08-03T12:00:00Z", "Tue 2026-09-01T12:00:00Z", "Thu 2026-10-01T12:00:00Z"},
		},
		{
			name: "1W on a Sunday", expr: "0 0 12 1W * ?", from: "2026-01-15T00:00:00Z",
			want: []string{"Mon 2026-02-02T12:00:00Z", "Mon 2026-03-02T12:00:00Z", "Wed 2026-04-01T12:00:00Z"},
		},
		{
			// 31 May 2026 is a Sunday and the last day: back to Friday. June has no 31st.
			name: "31W", expr: "0 0 12 31W * ?", from: "2026-05-01T00:00:00Z",
			want: []string{"Fri 2026-05-29T12:00:00Z", "Fri 2026-07-31T12:00:00Z", "Mon 2026-08-31T12:00:00Z"},
		},
		{
			name: "LW", expr: "0 0 12 LW * ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Fri 2026-01-30T12:00:00Z", "Fri 2026-02-27T12:00:00Z", "Tue 2026-03-31T12:00:00Z", "Thu 2026-04-30T12:00:00Z", "Fri 2026-05-29T12:00:00Z"},
		},
		{
			name: "last Friday", expr: "0 0 12 ? * 6L", from: "2026-01-01T00:00:00Z",
			want: []string{"Fri 2026-01-30T12:00:00Z", "Fri 2026-02-27T12:00:00Z", "Fri 2026-03-27T12:00:00Z"},
		},
		{
			name: "last Friday by name", expr: "0 0 12 ? * friL", from: "2026-01-01T00:00:00Z",
			want: []string{"Fri 2026-01-30T12:00:00Z"},
		},
		{
			name: "third Friday", expr: "0 0 12 ? * 6#3", from: "2026-01-01T00:00:00Z",
			want: []string{"Fri 2026-01-16T12:00:00Z", "Fri 2026-02-20T12:00:00Z", "Fri 2026-03-20T12:00:00Z"},
		},
		{
			name: "first Monday", expr: "0 0 12 ? * 2#1", from: "2026-01-01T00:00:00Z",
			want: []string{"Mon 2026-01-05T12:00:00Z", "Mon 2026-02-02T12:00:00Z"},
		},
		{
			name: "fifth Monday skips months without one", expr: "0 0 12 ? * 2#5", from: "2026-01-01T00:00:00Z",
			want: []string{"Mon 2026-03-30T12:00:00Z", "Mon 2026-06-29T12:00:00Z", "Mon 2026-08-31T12:00:00Z"},
		},
		{
			name: "1 is Sunday in Quartz", expr: "0 30 9 ? * 1", from: "2026-01-01T00:00:00Z",
			want: []string{"Sun 2026-01-04T09:30:00Z", "Sun 2026-01-11T09:30:00Z"},
		},
		{
			name: "L alone in day-of-week is Saturday", expr: "0 0 12 ? * L", from: "2026-01-01T00:00:00Z",
			want: []string{"Sat 2026-01-03T12:00:00Z", "Sat 2026-01-10T12:00:00Z"},
		},
		{
			name: "year field", expr: "0 0 0 1 1 ? 2030", from: "2026-01-01T00:00:00Z", n: 3,
			want: []string{"Tue 2030-01-01T00:00:00Z"},
		},
		{
			name: "year in the past", expr: "0 0 0 1 1 ? 2020", from: "2026-01-01T00:00:00Z", n: 3,
		},
		{
			name: "month and day names", expr: "0 0 12 ? JAN,MAR SUN", from: "2026-01-20T00:00:00Z",
			want: []string{"Sun 2026-01-25T12:00:00Z", "Sun 2026-03-01T12:00:00Z", "Sun 2026-03-08T12:00:00Z"},
		},
		{
			name: "names are case-insensitive", expr: "0 0 12 ? jan,Mar sun", from: "2026-01-20T00:00:00Z",
			want: []string{"Sun 2026-01-25T12:00:00Z", "Sun 2026-03-01T12:00:00Z"},
		},
		{
			name: "5/15 in minutes", expr: "0 5/15 * * * ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Thu 2026-01-01T00:05:00Z", "Thu 2026-01-01T00:20:00Z", "Thu 2026-01-01T00:35:00Z", "Thu 2026-01-01T00:50:00Z", "Thu 2026-01-01T01:05:00Z"},
		},
		{
			name: "range with step", expr: "10-30/5 * * * * ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Thu 2026-01-01T00:00:10Z", "Thu 2026-01-01T00:00:15Z", "Thu 2026-01-01T00:00:20Z", "Thu 2026-01-01T00:00:25Z", "Thu 2026-01-01T00:00:30Z", "Thu 2026-01-01T00:01:10Z"},
		},
		{
			name: "bare step", expr: "/20 * * * * ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Thu 2026-01-01T00:00:20Z", "Thu 2026-01-01T00:00:40Z", "Thu 2026-01-01T00:01:00Z"},
		},
		{
			name: "every second", expr: "*/1 * * * * ?", from: "2026-01-01T00:00:00.5Z",
			want: []string{"Thu 2026-01-01T00:00:01Z", "Thu 2026-01-01T00:00:02Z", "Thu 2026-01-01T00:00:03Z"},
		},
		{
			name: "every second into a new year", expr: "*/1 * * * * ?", from: "2026-12-31T23:59:59Z",
			want: []string{"Fri 2027-01-01T00:00:00Z", "Fri 2027-01-01T00:00:01Z"},
		},
		{
			name: "leap day", expr: "0 0 0 29 2 ?", from: "2026-01-01T00:00:00Z",
			want: []string{"Tue 2028-02-29T00:00:00Z", "Sun 2032-02-29T00:00:00Z"},
		},
		{
			name: "hour range wraps around midnight", expr: "0 0 22-2 * * ?", from: "2026-01-01T21:00:00Z",
			want: []string{"Thu 2026-01-01T22:00:00Z", "Thu 2026-01-01T23:00:00Z", "Fri 2026-01-02T00:00:00Z", "Fri 2026-01-02T01:00:00Z", "Fri 2026-01-02T02:00:00Z", "Fri 2026-01-02T22:00:00Z"},
		},
		{
			name: "day-of-week range wraps around", expr: "0 0 12 ? * FRI-MON", from: "2026-01-01T00:00:00Z",
			want: []string{"Fri 2026-01-02T12:00:00Z", "Sat 2026-01-03T12:00:00Z", "Sun 2026-01-04T12:00:00Z", "Mon 2026-01-05T12:00:00Z", "Fri 2026-01-09T12:00:00Z"},
		},
		{
			name: "month range wraps around", expr: "0 0 0 1 NOV-FEB ?", from: "2026-03-01T00:00:00Z",
			want: []string{"Sun 2026-11-01T00:00:00Z", "Tue 2026-12-01T00:00:00Z", "Fri 2027-01-01T00:00:00Z", "Mon 2027-02-01T00:00:00Z", "Mon 2027-11-01T00:00:00Z"},
		},
		{
			name: "search stops after 2099", expr: "0 0 0 1 1 ?", from: "2098-06-01T00:00:00Z", n: 3,
			want: []string{"Thu 2099-01-01T00:00:00Z"},
		},
		{
			name: "Tokyo, strictly after", expr: "0 0 9 * * ?", loc: "Asia/Tokyo", from: "2026-03-08T00:00:00Z",
			want: []string{"Mon 2026-03-09T09:00:00+09:00", "Tue 2026-03-10T09:00:00+09:00"},
		},
		{
			name: "Tokyo every 6 hours", expr: "0 0 */6 * * ?", loc: "Asia/Tokyo", from: "2026-03-08T00:00:00Z",
			want: []string{"Sun 2026-03-08T12:00:00+09:00", "Sun 2026-03-08T18:00:00+09:00", "Mon 2026-03-09T00:00:00+09:00"},
		},

		// 5-field cron.
		{
			name: "unix every 5 minutes", expr: "*/5 * * * *", from: "2026-01-01T00:02:10Z",
			want: []string{"Thu 2026-01-01T00:05:00Z", "Thu 2026-01-01T00:10:00Z"},
		},
		{
			name: "unix weekdays", expr: "0 9 * * 1-5", from: "2026-01-16T09:00:00Z",
			want: []string{"Mon 2026-01-19T09:00:00Z", "Tue 2026-01-20T09:00:00Z"},
		},
		{
			name: "unix day-of-month OR day-of-week", expr: "0 0 1,15 * 3", from: "2025-12-31T12:00:00Z",
			want: []string{"Thu 2026-01-01T00:00:00Z", "Wed 2026-01-07T00:00:00Z", "Wed 2026-01-14T00:00:00Z", "Thu 2026-01-15T00:00:00Z", "Wed 2026-01-21T00:00:00Z"},
		},
		{
			// Vixie decides "restricted" by the first character: */10 starts
			// with '*', so the day fields are ANDed.
			name: "unix */10 counts as unrestricted", expr: "0 0 */10 * 3", from: "2025-12-31T12:00:00Z",
			want: []string{"Wed 2026-01-21T00:00:00Z", "Wed 2026-02-11T00:00:00Z"},
		},
		{
			name: "unix 1-31/10 is restricted", expr: "0 0 1-31/10 * 3", from: "2025-12-31T12:00:00Z",
			want: []string{"Thu 2026-01-01T00:00:00Z", "Wed 2026-01-07T00:00:00Z", "Sun 2026-01-11T00:00:00Z", "Wed 2026-01-14T00:00:00Z", "Wed 2026-01-21T00:00:00Z"},
		},
		{
			name: "unix 0 is Sunday", expr: "0 0 * * 0", from: "2026-01-01T00:00:00Z",
			want: []string{"Sun 2026-01-04T00:00:00Z", "Sun 2026-01-11T00:00:00Z"},
		},
		{
			name: "unix 7 is Sunday", expr: "0 0 * * 7", from: "2026-01-01T00:00:00Z",
			want: []string{"Sun 2026-01-04T00:00:00Z", "Sun 2026-01-11T00:00:00Z"},
		},
		{
			name: "unix day names", expr: "0 0 * * sun", from: "2026-01-01T00:00:00Z",
			want: []string{"Sun 2026-01-04T00:00:00Z"},
		},
		{
			name: "unix ? reads as *", expr: "0 0 ? * MON", from: "2026-01-01T00:00:00Z",
			want: []string{"Mon 2026-01-05T00:00:00Z", "Mon 2026-01-12T00:00:00Z"},
		},
		{
			name: "unix leap day", expr: "0 0 29 2 *", from: "2026-01-01T00:00:00Z",
			want: []string{"Tue 2028-02-29T00:00:00Z"},
		},
		{
			name: "@daily", expr: "@daily", from: "2026-01-01T10:00:00Z",
			want: []string{"Fri 2026-01-02T00:00:00Z", "Sat 2026-01-03T00:00:00Z"},
		},
		{
			name: "@midnight", expr: "@midnight", from: "2026-01-01T00:00:00Z",
			want: []string{"Fri 2026-01-02T00:00:00Z"},
		},
		{
			name: "@hourly", expr: "@hourly", from: "2026-01-01T10:30:00Z",
			want: []string{"Thu 2026-01-01T11:00:00Z", "Thu 2026-01-01T12:00:00Z"},
		},
		{
			name: "@weekly", expr: "@weekly", from: "2026-01-01T00:00:00Z",
			want: []string{"Sun 2026-01-04T00:00:00Z", "Sun 2026-01-11T00:00:00Z"},
		},
		{
			name: "@monthly", expr: "@monthly", from: "2026-01-15T00:00:00Z",
			want: []string{"Sun 2026-02-01T00:00:00Z", "Sun 2026-03-01T00:00:00Z"},
		},
		{
			name: "@yearly", expr: "@yearly", from: "2026-01-15T00:00:00Z",
			want: []string{"Fri 2027-01-01T00:00:00Z", "Sat 2028-01-01T00:00:00Z"},
		},
		{
			name: "@annually", expr: "@ANNUALLY", from: "2026-01-15T00:00:00Z",
			want: []string{"Fri 2027-01-01T00:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.expr)
			n := tt.n
			if n == 0 {
				n = len(tt.want)
			}
			got := c.NextN(rfc3339(t, tt.from), mustLoad(t, tt.loc), n)
			checkTimes(t, got, tt.want)
		})
	}
}

// TestDaylightSaving pins the DST rules of the package documentation.
//
// America/New_York 2026: clocks jump 02:00 EST -> 03:00 EDT on 8 March and
// fall back 02:00 EDT -> 01:00 EST on 1 November. Europe/Berlin 2026: 02:00 CET
// -> 03:00 CEST on 29 March, 03:00 CEST -> 02:00 CET on 25 October.
func TestDaylightSaving(t *testing.T) {
	tests := []struct {
		name, expr, loc, from string
		want                  []string
	}{
		// Spring forward: nonexistent wall times fire once, at the end of the gap.
		{
			name: "NY daily 02:30 around spring forward", expr: "0 30 2 * * ?", loc: "America/New_York", from: "2026-03-06T00:00:00-05:00",
			want: []string{"Fri 2026-03-06T02:30:00-05:00", "Sat 2026-03-07T02:30:00-05:00", "Sun 2026-03-08T03:00:00-04:00", "Mon 2026-03-09T02:30:00-04:00", "Tue 2026-03-10T02:30:00-04:00"},
		},
		{
			name: "NY daily 02:30 just before the gap", expr: "0 30 2 * * ?", loc: "America/New_York", from: "2026-03-08T01:59:59.5-05:00",
			want: []string{"Sun 2026-03-08T03:00:00-04:00"},
		},
		{
			name: "NY daily 02:30 from the end of the gap", expr: "0 30 2 * * ?", loc: "America/New_York", from: "2026-03-08T03:00:00-04:00",
			want: []string{"Mon 2026-03-09T02:30:00-04:00"},
		},
		{
			name: "NY 02:30 and 03:30: the gap collapses into 03:00", expr: "0 30 2,3 * * ?", loc: "America/New_York", from: "2026-03-08T00:00:00-05:00",
			want: []string{"Sun 2026-03-08T03:00:00-04:00", "Sun 2026-03-08T03:30:00-04:00", "Mon 2026-03-09T02:30:00-04:00"},
		},
		{
			name: "NY every 15 minutes across spring forward", expr: "0 */15 * * * ?", loc: "America/New_York", from: "2026-03-08T01:20:00-05:00",
			want: []string{"Sun 2026-03-08T01:30:00-05:00", "Sun 2026-03-08T01:45:00-05:00", "Sun 2026-03-08T03:00:00-04:00", "Sun 2026-03-08T03:15:00-04:00"},
		},
		{
			name: "NY every second across spring forward", expr: "* * * * * ?", loc: "America/New_York", from: "2026-03-08T01:59:58-05:00",
			want: []string{"Sun 2026-03-08T01:59:59-05:00", "Sun 2026-03-08T03:00:00-04:00", "Sun 2026-03-08T03:00:01-04:00"},
		},
		{
			name: "Berlin daily 02:30 around spring forward", expr: "0 30 2 * * ?", loc: "Europe/Berlin", from: "2026-03-27T00:00:00+01:00",
			want: []string{"Fri 2026-03-27T02:30:00+01:00", "Sat 2026-03-28T02:30:00+01:00", "Sun 2026-03-29T03:00:00+02:00", "Mon 2026-03-30T02:30:00+02:00"},
		},
		{
			name: "Berlin every 15 minutes across spring forward", expr: "0 */15 * * * ?", loc: "Europe/Berlin", from: "2026-03-29T01:30:00+01:00",
			want: []string{"Sun 2026-03-29T01:45:00+01:00", "Sun 2026-03-29T03:00:00+02:00", "Sun 2026-03-29T03:15:00+02:00"},
		},

		// Fall back: repeated wall times fire once, at their first occurrence.
		{
			name: "NY daily 01:30 around fall back", expr: "0 30 1 * * ?", loc: "America/New_York", from: "2026-10-31T00:00:00-04:00",
			want: []string{"Sat 2026-10-31T01:30:00-04:00", "Sun 2026-11-01T01:30:00-04:00", "Mon 2026-11-02T01:30:00-05:00"},
		},
		{
			name: "NY daily 01:30 from the second pass", expr: "0 30 1 * * ?", loc: "America/New_York", from: "2026-11-01T01:10:00-05:00",
			want: []string{"Mon 2026-11-02T01:30:00-05:00"},
		},
		{
			name: "NY every 15 minutes across fall back", expr: "0 */15 * * * ?", loc: "America/New_York", from: "2026-11-01T00:40:00-04:00",
			want: []string{"Sun 2026-11-01T00:45:00-04:00", "Sun 2026-11-01T01:00:00-04:00", "Sun 2026-11-01T01:15:00-04:00", "Sun 2026-11-01T01:30:00-04:00", "Sun 2026-11-01T01:45:00-04:00", "Sun 2026-11-01T02:00:00-05:00", "Sun 2026-11-01T02:15:00-05:00"},
		},
		{
			name: "NY every 15 minutes from the second pass", expr: "0 */15 * * * ?", loc: "America/New_York", from: "2026-11-01T01:20:00-05:00",
			want: []string{"Sun 2026-11-01T02:00:00-05:00"},
		},
		{
			name: "NY hourly across fall back", expr: "0 0 * * * ?", loc: "America/New_York", from: "2026-11-01T00:30:00-04:00",
			want: []string{"Sun 2026-11-01T01:00:00-04:00", "Sun 2026-11-01T02:00:00-05:00", "Sun 2026-11-01T03:00:00-05:00"},
		},
		{
			name: "NY every second across fall back", expr: "* * * * * ?", loc: "America/New_York", from: "2026-11-01T01:59:58-04:00",
			want: []string{"Sun 2026-11-01T01:59:59-04:00", "Sun 2026-11-01T02:00:00-05:00"},
		},
		{
			name: "NY every second from the second pass", expr: "* * * * * ?", loc: "America/New_York", from: "2026-11-01T01:20:00-05:00",
			want: []string{"Sun 2026-11-01T02:00:00-05:00", "Sun 2026-11-01T02:00:01-05:00"},
		},
		{
			name: "Berlin daily 02:30 around fall back", expr: "0 30 2 * * ?", loc: "Europe/Berlin", from: "2026-10-24T00:00:00+02:00",
			want: []string{"Sat 2026-10-24T02:30:00+02:00", "Sun 2026-10-25T02:30:00+02:00", "Mon 2026-10-26T02:30:00+01:00"},
		},
		{
			name: "Berlin every 15 minutes across fall back", expr: "0 */15 * * * ?", loc: "Europe/Berlin", from: "2026-10-25T01:40:00+02:00",
			want: []string{"Sun 2026-10-25T01:45:00+02:00", "Sun 2026-10-25T02:00:00+02:00", "Sun 2026-10-25T02:15:00+02:00", "Sun 2026-10-25T02:30:00+02:00", "Sun 2026-10-25T02:45:00+02:00", "Sun 2026-10-25T03:00:00+01:00", "Sun 2026-10-25T03:15:00+01:00"},
		},
		{
			name: "5-field cron follows the same rules", expr: "30 2 * * *", loc: "Europe/Berlin", from: "2026-03-28T12:00:00+01:00",
			want: []string{"Sun 2026-03-29T03:00:00+02:00", "Mon 2026-03-30T02:30:00+02:00"},
		},
		{
			// Lord Howe Island shifts by 30 minutes: 02:00 -> 02:30 on 4 Oct 2026.
			name: "half-hour spring forward", expr: "0 */15 * * * ?", loc: "Australia/Lord_Howe", from: "2026-10-04T01:40:00+10:30",
			want: []string{"Sun 2026-10-04T01:45:00+10:30", "Sun 2026-10-04T02:30:00+11:00", "Sun 2026-10-04T02:45:00+11:00"},
		},
		{
			// ... and 02:00 -> 01:30 on 5 Apr 2026.
			name: "half-hour fall back", expr: "0 */15 * * * ?", loc: "Australia/Lord_Howe", from: "2026-04-05T01:20:00+11:00",
			want: []string{"Sun 2026-04-05T01:30:00+11:00", "Sun 2026-04-05T01:45:00+11:00", "Sun 2026-04-05T02:00:00+10:30"},
		},
		{
			// Samoa skipped 30 December 2011 entirely (-10:00 -> +14:00).
			name: "a whole day missing", expr: "0 0 12 * * ?", loc: "Pacific/Apia", from: "2011-12-29T00:00:00-10:00",
			want: []string{"Thu 2011-12-29T12:00:00-10:00", "Sat 2011-12-31T00:00:00+14:00", "Sat 2011-12-31T12:00:00+14:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.expr)
			got := c.NextN(rfc3339(t, tt.from), mustLoad(t, tt.loc), len(tt.want))
			checkTimes(t, got, tt.want)
		})
	}
}

// TestTransitionCheck makes sure the zone data says what the DST tests assume.
func TestTransitionCheck(t *testing.T) {
	for _, tc := range []struct {
		loc           string
		before, after string // one second apart in absolute time
	}{
		{"America/New_York", "2026-03-08T01:59:59-05:00", "2026-03-08T03:00:00-04:00"},
		{"America/New_York", "2026-11-01T01:59:59-04:00", "2026-11-01T01:00:00-05:00"},
		{"Europe/Berlin", "2026-03-29T01:59:59+01:00", "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", "2026-10-25T02:59:59+02:00", "2026-10-25T02:00:00+01:00"},
		{"Australia/Lord_Howe", "2026-04-05T01:59:59+11:00", "2026-04-05T01:30:00+10:30"},
		{"Australia/Lord_Howe", "2026-10-04T01:59:59+10:30", "2026-10-04T02:30:00+11:00"},
		{"Pacific/Apia", "2011-12-29T23:59:59-10:00", "2011-12-31T00:00:00+14:00"},
	} {
		loc := mustLoad(t, tc.loc)
		b, a := rfc3339(t, tc.before), rfc3339(t, tc.after)
		if a.Sub(b) != time.Second {
			t.Fatalf("%s: %s and %s are not one second apart", tc.loc, tc.before, tc.after)
		}
		// Formatting in loc reproduces the strings only if the zone data
		// has these offsets at these instants.
		for _, x := range []string{tc.before, tc.after} {
			if got := rfc3339(t, x).In(loc).Format(time.RFC3339); got != x {
				t.Errorf("%s: %s is %s in the zone data", tc.loc, x, got)
			}
		}
	}
}

// TestDayCounts counts the fire times of an every-15-minutes schedule on one
// local day: 96 on a normal day, 92 on a spring-forward day (23 hours, the
// four slots of the gap collapse into 03:00), 96 on a fall-back day (25 hours,
// the repeated hour fires only once).
func TestDayCounts(t *testing.T) {
	c := mustParse(t, "0 */15 * * * ?")
	for _, tc := range []struct {
		loc  string
		day  string
		want int
	}{
		{"America/New_York", "2026-03-08", 92},
		{"America/New_York", "2026-11-01", 96},
		{"America/New_York", "2026-07-01", 96},
		{"Europe/Berlin", "2026-03-29", 92},
		{"Europe/Berlin", "2026-10-25", 96},
		{"Asia/Tokyo", "2026-03-08", 96},
		{"Asia/Tokyo", "2026-11-01", 96},
		{"UTC", "2026-03-08", 96},
	} {
		loc := mustLoad(t, tc.loc)
		d, err := time.ParseInLocation("2006-01-02", tc.day, loc)
		if err != nil {
			t.Fatal(err)
		}
		start := d.Add(-time.Nanosecond)
		end := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		got := 0
		prev := start
		for f := c.Next(start, loc); f.Before(end); f = c.Next(f, loc) {
			if !f.After(prev) {
				t.Fatalf("%s %s: %s does not follow %s", tc.loc, tc.day, f, prev)
			}
			if f.Minute()%15 != 0 || f.Second() != 0 {
				t.Errorf("%s %s: fire at %s", tc.loc, tc.day, f.Format(wantLayout))
			}
			prev = f
			got++
		}
		if got != tc.want {
			t.Errorf("%s %s: %d fire times, want %d", tc.loc, tc.day, got, tc.want)
		}
	}
}

// TestWholeYear runs an every-15-minutes schedule through 2026: strictly
// increasing, no duplicate instants, and 4 fewer fires than slots in zones
// that spring forward by an hour.
func TestWholeYear(t *testing.T) {
	c := mustParse(t, "0 */15 * * * ?")
	for _, tc := range []struct {
		loc  string
		want int
	}{
		{"America/New_York", 365*96 - 4},
		{"Europe/Berlin", 365*96 - 4},
		{"Asia/Tokyo", 365 * 96},
		{"UTC", 365 * 96},
	} {
		loc := mustLoad(t, tc.loc)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
		end := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
		seen := make(map[int64]bool)
		got := 0
		prev := start
		for f := c.Next(start, loc); f.Before(end); f = c.Next(f, loc) {
			if !f.After(prev) || seen[f.Unix()] {
				t.Fatalf("%s: %s after %s", tc.loc, f, prev)
			}
			seen[f.Unix()] = true
			prev = f
			got++
		}
		if got != tc.want {
			t.Errorf("%s: %d fire times in 2026, want %d", tc.loc, got, tc.want)
		}
	}
}

// TestDayRules checks the day logic against predicates written directly with
// the time package, for every day from 2024 through 2031.
func TestDayRules(t *testing.T) {
	weekday := func(d time.Time) bool { return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday }
	// nearest is Quartz's nW: the Monday-Friday day of the month closest to
	// day n, if the month has a day n.
	nearest := func(n int) func(time.Time) bool {
		return func(d time.Time) bool {
			target := time.Date(d.Year(), d.Month(), n, 12, 0, 0, 0, time.UTC)
			if target.Month() != d.Month() || !weekday(d) {
				return false
			}
			dist := func(x time.Time) int { return max(x.Day()-n, n-x.Day()) }
			for x := time.Date(d.Year(), d.Month(), 1, 12, 0, 0, 0, time.UTC); x.Month() == d.Month(); x = x.AddDate(0, 0, 1) {
				if weekday(x) && dist(x) < dist(d) {
					return false
				}
			}
			return true
		}
	}
	lastWeekday := func(d time.Time) bool {
		if !weekday(d) {
			return false
		}
		for x := d.AddDate(0, 0, 1); x.Month() == d.Month(); x = x.AddDate(0, 0, 1) {
			if weekday(x) {
				return false
			}
		}
		return true
	}
	is := func(wd time.Weekday) func(time.Time) bool {
		return func(d time.Time) bool { return d.Weekday() == wd }
	}
	rules := []struct {
		expr  string
		match func(time.Time) bool
	}{
		{"0 0 12 L * ?", func(d time.Time) bool { return d.AddDate(0, 0, 1).Day() == 1 }},
		{"0 0 12 L-2 * ?", func(d time.Time) bool { return d.AddDate(0, 0, 3).Day() == 1 }},
		{"0 0 12 L-30 * ?", func(d time.Time) bool { return d.Day() == 1 && d.AddDate(0, 0, 31).Day() == 1 }},
		{"0 0 12 15W * ?", nearest(15)},
		{"0 0 12 1W * ?", nearest(1)},
		{"0 0 12 31W * ?", nearest(31)},
		{"0 0 12 30W * ?", nearest(30)}, // no fire in February
		{"0 0 12 LW * ?", lastWeekday},
		{"0 0 12 ? * 6L", func(d time.Time) bool { return is(time.Friday)(d) && d.AddDate(0, 0, 7).Month() != d.Month() }},
		{"0 0 12 ? * 1L", func(d time.Time) bool { return is(time.Sunday)(d) && d.AddDate(0, 0, 7).Month() != d.Month() }},
		{"0 0 12 ? * 6#3", func(d time.Time) bool { return is(time.Friday)(d) && (d.Day()-1)/7 == 2 }},
		{"0 0 12 ? * 2#5", func(d time.Time) bool { return is(time.Monday)(d) && (d.Day()-1)/7 == 4 }},
		{"0 0 12 ? * 7#1", func(d time.Time) bool { return is(time.Saturday)(d) && d.Day() <= 7 }},
		{"0 0 12 ? * L", is(time.Saturday)},
		{"0 0 12 ? * 1", is(time.Sunday)},
		{"0 0 12 ? * MON-FRI", weekday},
		{"0 0 12 ? * */2", func(d time.Time) bool { return d.Weekday()%2 == 0 }}, // 1,3,5,7 = Sun, Tue, Thu, Sat
		{"0 0 12 29 2 ?", func(d time.Time) bool { return d.Month() == time.February && d.Day() == 29 }},
		{"0 0 12 28-3 * ?", func(d time.Time) bool { return d.Day() >= 28 || d.Day() <= 3 }},
		{"0 12 1,15 * 3", func(d time.Time) bool { return d.Day() == 1 || d.Day() == 15 || is(time.Wednesday)(d) }},
		{"0 12 13 * FRI", func(d time.Time) bool { return d.Day() == 13 || is(time.Friday)(d) }},
		{"0 12 */10 * 3", func(d time.Time) bool { return (d.Day()-1)%10 == 0 && is(time.Wednesday)(d) }},
		{"0 12 * * 0", is(time.Sunday)},
		{"0 12 * * 7", is(time.Sunday)},
		{"0 12 * * 5-7", func(d time.Time) bool { return d.Weekday() >= time.Friday || d.Weekday() == time.Sunday }},
	}
	first := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	end := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range rules {
		t.Run(r.expr, func(t *testing.T) {
			var want []time.Time
			for d := first; d.Before(end); d = d.AddDate(0, 0, 1) {
				if r.match(d) {
					want = append(want, d)
				}
			}
			c := mustParse(t, r.expr)
			got := c.NextN(first.Add(-time.Second), time.UTC, len(want)+1)
			if len(got) != len(want)+1 || got[len(want)].Before(end) {
				t.Fatalf("got %d fire times before 2032, want %d", len(got)-1, len(want))
			}
			for i := range want {
				if !got[i].Equal(want[i]) {
					t.Fatalf("fire %d: got %s, want %s", i, got[i].Format(wantLayout), want[i].Format(wantLayout))
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr  string
		field string
		msg   string // part of the message
	}{
		{"", "", "expected 5, 6 or 7 fields, got 0"},
		{"0 0 * *", "", "expected 5, 6 or 7 fields, got 4"},
		{"0 0 12 * * ? 2030 1", "", "expected 5, 6 or 7 fields, got 8"},
		{"@reboot", "", `unknown macro "@reboot"`},
		{"60 * * * * ?", "second", "60 is out of range 0-59"},
		{"-1 * * * * ?", "second", "invalid item"},
		{"a * * * * ?", "second", `unknown name "A"`},
		{"? * * * * ?", "second", "'?' is only allowed in day-of-month and day-of-week"},
		{"0 60 * * * ?", "minute", "60 is out of range 0-59"},
		{"0 0/0 * * * ?", "minute", "step 0 is out of range 1-59"},
		{"0 */60 * * * ?", "minute", "step 60 is out of range 1-59"},
		{"0 0/x * * * ?", "minute", `invalid step "X"`},
		{"0 0 25 * * ?", "hour", "25 is out of range 0-23"},
		{"0 0 L * * ?", "hour", "'L' is only allowed in day-of-month and day-of-week"},
		{"0 0 12 32 * ?", "day-of-month", "32 is out of range 1-31"},
		{"0 0 12 0 * ?", "day-of-month", "0 is out of range 1-31"},
		{"0 0 12 6#3 * ?", "day-of-month", "'#' is only allowed in day-of-week"},
		{"0 0 12 1-5W * ?", "day-of-month", "'W' must follow a single day"},
		{"0 0 12 32W * ?", "day-of-month", "32 is out of range 1-31"},
		{"0 0 12 L,15 * ?", "day-of-month", "'L' cannot be combined with other values"},
		{"0 0 12 1W,15W * ?", "day-of-month", "'W' cannot be combined with other values"},
		{"0 0 12 L-31 * ?", "day-of-month", "offset 31 from the last day is out of range 0-30"},
		{"0 0 12 LX * ?", "day-of-month", "invalid 'L' expression"},
		{"0 0 12 1,?,2 * ?", "day-of-month", "'?' must be the whole field"},
		{"0 0 12 ? 13 *", "month", "13 is out of range 1-12"},
		{"0 0 12 ? 0 *", "month", "0 is out of range 1-12"},
		{"0 0 12 ? JANX *", "month", `unknown name "JANX"`},
		{"0 0 12 ? * 8", "day-of-week", "8 is out of range 1-7"},
		{"0 0 12 ? * 0", "day-of-week", "0 is out of range 1-7"},
		{"0 0 12 ? * FOO", "day-of-week", `unknown name "FOO"`},
		{"0 0 12 ? * MON-", "day-of-week", "invalid item"},
		{"0 0 12 ? * 1,,2", "day-of-week", "empty item in list"},
		{"0 0 12 ? * 6#6", "day-of-week", "occurrence 6 after '#' is out of range 1-5"},
		{"0 0 12 ? * 6#0", "day-of-week", "occurrence 0 after '#' is out of range 1-5"},
		{"0 0 12 ? * 8#1", "day-of-week", "8 is out of range 1-7"},
		{"0 0 12 ? * 6#3,2#1", "day-of-week", "'#' cannot be combined with other values"},
		{"0 0 12 ? * 6L,2", "day-of-week", "'L' cannot be combined with other values"},
		{"0 0 12 ? * 1-5L", "day-of-week", "'L' must follow a single day of the week"},
		{"0 0 12 ? * 15W", "day-of-week", "'W' is only allowed in day-of-month"},
		{"0 0 12 ? * MON/8", "day-of-week", "step 8 is out of range 1-7"},
		{"0 0 12 * * MON", "day-of-month and day-of-week", "one of them must be '?'"},
		{"0 0 12 L * L", "day-of-month and day-of-week", "one of them must be '?'"},
		{"0 0 12 * * *", "day-of-month and day-of-week", "one of them must be '?'"},
		{"0 0 12 ? * ?", "day-of-month and day-of-week", "only one of them may be '?'"},
		{"0 0 12 ? * MON 1969", "year", "1969 is out of range 1970-2099"},
		{"0 0 12 ? * MON 2100", "year", "2100 is out of range 1970-2099"},
		{"0 0 12 ? * MON 2030-2020", "year", "range 2030-2020: start is after end"},
		{"0 0 12 ? * MON L", "year", "'L' is only allowed in day-of-month and day-of-week"},
		// 5-field cron.
		{"60 * * * *", "minute", "60 is out of range 0-59"},
		{"0 24 * * *", "hour", "24 is out of range 0-23"},
		{"0 0 L * *", "day-of-month", "'L' is not supported in 5-field cron expressions"},
		{"0 0 15W * *", "day-of-month", "'W' is not supported in 5-field cron expressions"},
		{"0 0 5-1 * *", "day-of-month", "range 5-1: start is after end"},
		{"0 0 * 13 *", "month", "13 is out of range 1-12"},
		{"0 0 * * 8", "day-of-week", "8 is out of range 0-7"},
		{"0 0 * * 6#3", "day-of-week", "'#' is not supported in 5-field cron expressions"},
		{"0 0 * * 5L", "day-of-week", "'L' is not supported in 5-field cron expressions"},
		{"0 0 * * FOO", "day-of-week", `unknown name "FOO"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			c, err := ParseCron(tt.expr)
			if err == nil {
				t.Fatalf("ParseCron(%q) = %v, want an error", tt.expr, c)
			}
			var ce *CronError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is a %T, want *CronError", err, err)
			}
			if ce.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", ce.Field, tt.field, err)
			}
			if !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", ce.Msg, tt.msg)
			}
			if ce.Expr != strings.Join(strings.Fields(tt.expr), " ") {
				t.Errorf("Expr = %q", ce.Expr)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"0 0 25 * * ?", `cron "0 0 25 * * ?": hour: 25 is out of range 0-23`},
		{" 0  0 25 *\t* ? ", `cron "0 0 25 * * ?": hour: 25 is out of range 0-23`},
		{"0 0 12 * * MON", `cron "0 0 12 * * MON": day-of-month and day-of-week: one of them must be '?'`},
		{"0 0 * *", `cron "0 0 * *": expected 5, 6 or 7 fields, got 4`},
	} {
		_, err := ParseCron(tc.expr)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseCron(%q) error = %v, want %s", tc.expr, err, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"  0   0/5 *  * * ?  ", "0 0/5 * * * ?"},
		{"0\t15 10 ? * mon-fri", "0 15 10 ? * mon-fri"},
		{"*/5 * * * *", "*/5 * * * *"},
		{" @daily ", "@daily"},
	} {
		if got := mustParse(t, tc.expr).String(); got != tc.want {
			t.Errorf("String() of %q = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestNextEdgeCases(t *testing.T) {
	from := rfc3339(t, "2026-01-01T00:00:00Z")

	t.Run("never-existing dates give the zero Time", func(t *testing.T) {
		for _, expr := range []string{"0 0 0 30 2 ?", "0 0 0 31 4,6,9,11 ?", "0 0 0 ? 2 2#5 2027", "0 0 0 1 1 ? 2020-2025"} {
			for _, start := range []time.Time{from, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)} {
				got := mustParse(t, expr).Next(start, time.UTC)
				if expr == "0 0 0 1 1 ? 2020-2025" && start.Year() == 1960 {
					if want := rfc3339(t, "2020-01-01T00:00:00Z"); !got.Equal(want) {
						t.Errorf("%s from %s: got %s, want %s", expr, start, got, want)
					}
					continue
				}
				if !got.IsZero() {
					t.Errorf("%s from %s: got %s, want zero Time", expr, start, got)
				}
			}
		}
	})

	t.Run("nil location is UTC", func(t *testing.T) {
		got := mustParse(t, "0 0 12 * * ?").Next(from, nil)
		if want := rfc3339(t, "2026-01-01T12:00:00Z"); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("got %s, want %s in UTC", got, want)
		}
	})

	t.Run("result is in loc whatever t's location", func(t *testing.T) {
		// from is 19:00 on 31 Dec in New York and exactly 09:00 on 1 Jan in
		// Tokyo, so the next 09:00 in Tokyo is on 2 Jan.
		tokyo := mustLoad(t, "Asia/Tokyo")
		got := mustParse(t, "0 0 9 * * ?").Next(from.In(mustLoad(t, "America/New_York")), tokyo)
		if got.Location() != tokyo || got.Format(wantLayout) != "Fri 2026-01-02T09:00:00+09:00" {
			t.Errorf("got %s", got.Format(wantLayout))
		}
	})

	t.Run("fixed zone", func(t *testing.T) {
		loc := time.FixedZone("IST", 5*3600+1800)
		got := mustParse(t, "0 0 9 * * ?").Next(from, loc)
		if got.Format(wantLayout) != "Thu 2026-01-01T09:00:00+05:30" {
			t.Errorf("got %s", got.Format(wantLayout))
		}
	})

	t.Run("after the last year", func(t *testing.T) {
		if got := mustParse(t, "* * * * * ?").Next(rfc3339(t, "2099-12-31T23:59:59Z"), time.UTC); !got.IsZero() {
			t.Errorf("got %s, want zero Time", got)
		}
		if got := mustParse(t, "* * * * *").Next(rfc3339(t, "2150-01-01T00:00:00Z"), time.UTC); !got.IsZero() {
			t.Errorf("got %s, want zero Time", got)
		}
	})

	t.Run("NextN with n <= 0", func(t *testing.T) {
		if got := mustParse(t, "* * * * * ?").NextN(from, time.UTC, 0); len(got) != 0 {
			t.Errorf("got %v", got)
		}
	})
}

// TestEverySecondIsCheap guards against searches that walk second by second.
func TestEverySecondIsCheap(t *testing.T) {
	c := mustParse(t, "*/1 * * * * ?")
	ny := mustLoad(t, "America/New_York")
	from := rfc3339(t, "2026-01-01T00:00:00Z")
	allocs := testing.AllocsPerRun(100, func() { c.Next(from, ny) })
	if allocs != 0 {
		t.Errorf("Next allocates %v times per call", allocs)
	}
	start := time.Now()
	got := c.NextN(from, ny, 20000)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("20000 fire times took %s", el)
	}
	if len(got) != 20000 || !got[19999].Equal(from.Add(20000*time.Second)) {
		t.Errorf("last of %d fire times is %s", len(got), got[len(got)-1])
	}
	// A schedule that never fires must give up quickly too.
	start = time.Now()
	if f := mustParse(t, "0 0 0 30 2 ?").Next(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), ny); !f.IsZero() {
		t.Errorf("got %s", f)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("searching to 2099 took %s", el)
	}
}

func BenchmarkNextEverySecond(b *testing.B) {
	c := mustParse(b, "*/1 * * * * ?")
	loc := mustLoad(b, "Europe/Berlin")
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	for b.Loop() {
		t = c.Next(t, loc)
	}
}

func BenchmarkNextLastFriday(b *testing.B) {
	c := mustParse(b, "0 0 12 ? * 6L")
	loc := mustLoad(b, "America/New_York")
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	for b.Loop() {
		if t = c.Next(t, loc); t.IsZero() {
			t = time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		}
	}
}

func BenchmarkNextNever(b *testing.B) {
	c := mustParse(b, "0 0 0 30 2 ?")
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		c.Next(t, time.UTC)
	}
}
