// Package specfile finds the chat platforms' own API descriptions
// (../shared/specs beside the repository) for the fake servers the tests
// run, which reject what the real APIs would reject.
package specfile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Find returns the path of the description: the file $env names when it is
// set, otherwise rel (like "shared/specs/slack/….json") found in a parent
// of this package's source directory or of the working directory.
func Find(rel, env string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("%s not found above %s (set %s)", rel, strings.Join(starts, " or "), env)
}
