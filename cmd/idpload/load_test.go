package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

func TestPercentileAndMedian(t *testing.T) {
	t.Parallel()
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	s := summarize(lat)
	if s.n != 1000 || s.p50 != 500*time.Millisecond || s.p90 != 900*time.Millisecond || s.p99 != 990*time.Millisecond {
		t.Errorf("summarize(1..1000 ms) = %+v, want p50 500ms p90 900ms p99 990ms", s)
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile of one = %v, want 7", got)
	}
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The bare handler answers 200 only to a request signed with its secret.
func TestBareHandlerChecksTheSignature(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(bareHandler("s3cret"))
	defer srv.Close()
	body := "command=%2Fidp&text=help"
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"signed", slackfake.Sign("s3cret", time.Now(), []byte(body)), http.StatusOK},
		{"other secret", slackfake.Sign("other", time.Now(), []byte(body)), http.StatusUnauthorized},
		{"stale", slackfake.Sign("s3cret", time.Now().Add(-10*time.Minute), []byte(body)), http.StatusUnauthorized},
		{"unsigned", http.Header{}, http.StatusUnauthorized},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = c.header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}
