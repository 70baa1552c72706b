package platform

import "testing"

func TestOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"  lead\tand\n\ntrail  ", 40, "lead and trail"},
		{"bell\a and \x1b[31mred", 40, "bell and [31mred"},
		{"abcdef", 3, "abc…"},
		{"abc def", 4, "abc…"},
		{"日本語のテキスト", 3, "日本語…"},
		{"bad \xff byte", 40, "bad byte"},
		{"", 5, ""},
	} {
		if got := OneLine(tc.in, tc.n); got != tc.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"one", 3, "one"},
		{"a\nb\nc\nd\n", 2, "c | d"},
		{"\n\n  only  \n", 5, "only"},
		{"", 3, ""},
	} {
		if got := LastLines(tc.in, tc.n); got != tc.want {
			t.Errorf("LastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
