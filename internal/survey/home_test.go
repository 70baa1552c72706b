package survey_test

import (
	"context"
	"strings"
	"testing"
)

func TestHomeShowsTheOpenSurvey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := newCommands(f)
	ctx := context.Background()
	if it, err := c.Home(ctx, dev, "slack"); err != nil || it != nil {
		t.Fatalf("Home without an open survey = %+v, %v; want nil, nil", it, err)
	}
	sv := f.start(t, "C0GENERAL")
	it, err := c.Home(ctx, dev, "slack")
	if err != nil || it == nil {
		t.Fatalf("Home with survey %s open = %+v, %v", sv.Ref(), it, err)
	}
	if !strings.Contains(it.Title, sv.Ref()) || len(it.Actions) != 11 || it.Actions[9].Command != "nps 9" {
		t.Errorf("home survey = %+v", it)
	}
	if it, err := c.Home(ctx, dev, "discord"); err != nil || it != nil {
		t.Errorf("Home on discord, where no survey is open = %+v, %v", it, err)
	}
}
