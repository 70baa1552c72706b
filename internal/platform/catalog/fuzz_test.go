package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoad loads any bytes as a catalog's one service file. Whatever they
// are, Load and Validate agree (no problems means Load succeeds), every
// problem names the file and says what is wrong, and a catalog that loads
// holds exactly that one service, named.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/*/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := filepath.Glob("testdata/good/*.yaml")
	shipped, _ := filepath.Glob("../../../catalog/*.yaml")
	for _, path := range append(append(seeds, good...), shipped...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if len(shipped) == 0 || len(good) == 0 {
		f.Fatal("no seed catalogs found")
	}
	f.Add([]byte("name: x\nparameters: {type: object, properties: {a: {$ref: '#'}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "service.yaml"
		fsys := fstest.MapFS{file: &fstest.MapFile{Data: data}}
		before := string(data)
		problems := Validate(fsys, nil)
		cat, err := Load(fsys)
		if string(data) != before {
			t.Fatal("the loader changed its input")
		}
		for _, p := range problems {
			if p.File != file || strings.TrimSpace(p.Message) == "" {
				t.Errorf("problem %+v does not name %s or say what is wrong", p, file)
			}
		}
		if len(problems) > 0 {
			var ps Problems
			if err == nil || !errors.As(err, &ps) || len(ps) != len(problems) {
				t.Fatalf("Validate found %d problems, Load returned %v", len(problems), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Validate found no problem, Load = %v", err)
		}
		svcs := cat.Services()
		if len(svcs) != 1 || svcs[0].Name == "" {
			t.Fatalf("Load of one valid file = %d services, want one with a name", len(svcs))
		}
	})
}
