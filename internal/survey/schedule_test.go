package survey_test

import (
	"testing"

	"github.com/idpbot/idpbot/internal/survey"
)

func TestNewRejectsSchedule(t *testing.T) {
	t.Parallel()
	// The service refuses to start with a never-firing schedule, naming it.
	_, err := survey.New(survey.Config{Schedule: "0 0 31 2 *"})
	if want := `schedule nps_survey: cron spec "0 0 31 2 *" never fires`; err == nil || err.Error() != want {
		t.Errorf("New(never-firing schedule) = %v, want %q", err, want)
	}
}
