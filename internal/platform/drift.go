package platform

import (
	"cmp"
	"strings"
)

// DriftCount is how many ready resources of a service type in an
// environment are drifted, as the drift check last found them.
type DriftCount struct {
	ServiceType string
	Environment string
	Drifted     int
}

// DriftNote is the message of the one note a resource's thread gets when
// what exists stops matching its record: "drift: <summary>", a hint when
// it is missing, and each check that differs as recorded → live.
func DriftNote(st LiveStatus) string {
	var b strings.Builder
	b.WriteString("drift: ")
	b.WriteString(cmp.Or(st.Summary, "what exists is "+string(st.Health)))
	if st.Health == Missing && !strings.Contains(st.Summary, "outside idpbot") {
		b.WriteString(" — deleted outside idpbot?")
	}
	for _, c := range st.Checks {
		if c.OK {
			continue
		}
		b.WriteString("\n• ")
		b.WriteString(c.Name)
		b.WriteString(": ")
		if c.Recorded != "" {
			b.WriteString(c.Recorded)
			b.WriteString(" → ")
		}
		b.WriteString(cmp.Or(c.Live, "-"))
	}
	return b.String()
}

// RecoveryNote is the message of the one note a resource's thread gets
// when what exists matches its record again.
func RecoveryNote(st LiveStatus) string {
	return "drift resolved: " + cmp.Or(st.Summary, "what exists matches the record again")
}
