package annotate

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captune/captune/internal/atomicfile"
)

// copyFixture copies testdata/datasets/name into a temporary folder.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "datasets", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if de.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// tempFiles lists leftover temporary files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && isTempName(de.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestSaveEachFormat edits a dataset of every format, saves, reopens and checks that the edits are
// there and that what Captune does not understand in the files survived.
func TestSaveEachFormat(t *testing.T) {
	tests := []struct {
		fixture string
		opts    OpenOptions
		kept    map[string][]string // file -> substrings that must survive the save
	}{
		{"sidecar", OpenOptions{Recursive: true}, map[string][]string{"orphan.txt": {"a caption without an image"}, "b.caption": {"unused caption extension"}}},
		{"hf_jsonl", OpenOptions{}, map[string][]string{"train/metadata.jsonl": {
			`"width":64`, `{"file_name": "3.png", "text": ` + "\n", `"../../etc/passwd"`, `"/etc/passwd"`, `"missing.png"`}}},
		{"coco", OpenOptions{Recursive: true}, map[string][]string{"annotations/captions_fixture.json": {
			`"info": {"description":"fixture"}`, `"licenses": []`, `"width":640`, `"image not on disk"`, `"no such image id"`, `"../../../etc/passwd"`, `{"id":105,"image_id":2}`}}},
		{"csv", OpenOptions{}, map[string][]string{"metadata.csv": {"file_name,text,photographer", "missing.jpg,gone,x", "../secret.jpg,evil,x", "short"}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			dir := copyFixture(t, tt.fixture)
			d, _ := openT(t, dir, tt.opts)
			// Edit the first captioned item, caption the first uncaptioned one, add a caption with
			// characters that need escaping, approve something, remove all captions of another.
			var captioned, uncaptioned []int
			for i, it := range d.Items() {
				if it.HasCaption() {
					captioned = append(captioned, i)
				} else {
					uncaptioned = append(uncaptioned, i)
				}
			}
			if len(captioned) < 2 || len(uncaptioned) < 1 {
				t.Fatalf("fixture %s: want 2 captioned and 1 uncaptioned items", tt.fixture)
			}
			must(t, d.SetCaption(captioned[0], 0, `edited, with "quotes" & <tags>`, OriginHuman))
			must(t, d.SetState(captioned[0], 0, StateApproved))
			_, err := d.AddCaption(uncaptioned[0], "new caption, line one", ModelOrigin("blip-base"))
			must(t, err)
			_, err = d.AddCaption(captioned[0], "ünïcödé ✓ second", OriginHuman)
			must(t, err)
			for len(d.Item(captioned[1]).Captions) > 0 {
				must(t, d.RemoveCaption(captioned[1], 0))
			}
			want := view(d.Items())
			if !d.Dirty() {
				t.Fatal("not dirty after edits")
			}
			must(t, d.Save())
			if d.Dirty() {
				t.Error("dirty after save")
			}
			if tf := tempFiles(t, dir); len(tf) > 0 {
				t.Errorf("temporary files left: %v", tf)
			}
			d2, rep := openT(t, dir, tt.opts)
			if df := diff(want, view(d2.Items())); df != "" {
				t.Errorf("after reopen %s\nwarnings: %v", df, rep.Warnings)
			}
			if rep.Source != d.Format() {
				t.Errorf("reopened as %s, saved as %s", rep.Source, d.Format())
			}
			for file, subs := range tt.kept {
				content := readFileT(t, filepath.Join(dir, file))
				for _, s := range subs {
					if !strings.Contains(content, s) {
						t.Errorf("%s lost %q:\n%s", file, s, content)
					}
				}
			}
			// Saving again with nothing pending writes nothing.
			before := readFileT(t, filepath.Join(dir, projectRel))
			must(t, d.Save())
			if readFileT(t, filepath.Join(dir, projectRel)) != before {
				t.Error("a save with nothing pending rewrote project.json")
			}
		})
	}
}

func TestSaveRemovesEmptiedSidecar(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "only caption"})
	d, _ := openT(t, dir, OpenOptions{})
	must(t, d.RemoveCaption(0, 0))
	must(t, d.Save())
	if _, err := os.Stat(filepath.Join(dir, "a.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a.txt still there: %v", err)
	}
	d.Undo()
	must(t, d.Save())
	if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "only caption" {
		t.Errorf("after undo and save: %q", got)
	}
}

func TestConflicts(t *testing.T) {
	setup := func(t *testing.T) (string, *Dataset) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "mine before", "b.jpg": "", "b.txt": "b before", "c.jpg": ""})
		d, _ := openT(t, dir, OpenOptions{})
		return dir, d
	}
	t.Run("modified file is not overwritten", func(t *testing.T) {
		dir, d := setup(t)
		must(t, d.SetCaption(0, 0, "mine after", OriginHuman))
		must(t, d.SetCaption(1, 0, "b after", OriginHuman))
		writeTree(t, dir, map[string]string{"a.txt": "theirs"})
		err := d.Save()
		var ce *ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
			t.Fatalf("Save: %v, want a ConflictError", err)
		}
		if df := diff([]Conflict{{"a.txt", ConflictModified}}, ce.Conflicts); df != "" {
			t.Errorf("conflicts %s", df)
		}
		if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "theirs" {
			t.Errorf("a.txt overwritten: %q", got)
		}
		if got := readFileT(t, filepath.Join(dir, "b.txt")); got != "b after" {
			t.Errorf("b.txt, not in conflict, not saved: %q", got)
		}
		if !d.Dirty() {
			t.Error("the conflicting edit is no longer pending")
		}
		// Asking again gives the same answer until the user picks.
		if err := d.Save(); !errors.Is(err, ErrConflict) {
			t.Errorf("second Save: %v", err)
		}
		must(t, d.Resolve(ce.Conflicts, KeepMine))
		must(t, d.Save())
		if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "mine after" {
			t.Errorf("after KeepMine: %q", got)
		}
	})
	t.Run("take theirs", func(t *testing.T) {
		dir, d := setup(t)
		must(t, d.SetState(0, 0, StateApproved))
		must(t, d.SetCaption(0, 0, "mine after", OriginHuman))
		writeTree(t, dir, map[string]string{"a.txt": "theirs one\ntheirs two"})
		err := d.Save()
		var ce *ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("Save: %v", err)
		}
		must(t, d.Resolve(ce.Conflicts, TakeTheirs))
		want := []Caption{{"theirs one", OriginImported, StateUnreviewed}, {"theirs two", OriginImported, StateUnreviewed}}
		if df := diff(want, d.Item(0).Captions); df != "" {
			t.Errorf("after TakeTheirs %s", df)
		}
		must(t, d.Save())
		if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "theirs one\ntheirs two" {
			t.Errorf("a.txt = %q", got)
		}
		// Undo brings mine back, and saving it is then the user's explicit choice.
		d.Undo()
		must(t, d.Save())
		if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "mine after" {
			t.Errorf("after undo: %q", got)
		}
	})
	t.Run("deleted and created files", func(t *testing.T) {
		dir, d := setup(t)
		must(t, d.SetCaption(0, 0, "mine", OriginHuman))
		_, err := d.AddCaption(2, "new", OriginHuman)
		must(t, err)
		os.Remove(filepath.Join(dir, "a.txt"))
		writeTree(t, dir, map[string]string{"c.txt": "someone else's"})
		var ce *ConflictError
		if err := d.Save(); !errors.As(err, &ce) {
			t.Fatalf("Save: %v", err)
		}
		if df := diff([]Conflict{{"a.txt", ConflictDeleted}, {"c.txt", ConflictCreated}}, ce.Conflicts); df != "" {
			t.Errorf("conflicts %s", df)
		}
	})
	t.Run("same content or a touch is no conflict", func(t *testing.T) {
		dir, d := setup(t)
		must(t, d.SetCaption(0, 0, "mine", OriginHuman))
		later := time.Now().Add(time.Hour)
		os.Chtimes(filepath.Join(dir, "a.txt"), later, later)
		must(t, d.Save())
	})
	t.Run("single-file format", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.jpg": "", "b.jpg": "", "metadata.jsonl": `{"file_name":"a.jpg","text":"a"}` + "\n" + `{"file_name":"b.jpg","text":"b"}` + "\n"})
		d, _ := openT(t, dir, OpenOptions{})
		must(t, d.SetCaption(0, 0, "mine", OriginHuman))
		writeTree(t, dir, map[string]string{"metadata.jsonl": `{"file_name":"a.jpg","text":"a"}` + "\n" + `{"file_name":"b.jpg","text":"theirs"}` + "\n"})
		var ce *ConflictError
		if err := d.Save(); !errors.As(err, &ce) {
			t.Fatalf("Save: %v", err)
		}
		must(t, d.Resolve(ce.Conflicts, TakeTheirs))
		if got := []string{d.Item(0).Captions[0].Text, d.Item(1).Captions[0].Text}; got[0] != "a" || got[1] != "theirs" {
			t.Errorf("after TakeTheirs: %v", got)
		}
		must(t, d.SetCaption(0, 0, "mine again", OriginHuman))
		must(t, d.Save())
		want := `{"file_name":"a.jpg","text":"mine again"}` + "\n" + `{"file_name":"b.jpg","text":"theirs"}` + "\n"
		if got := readFileT(t, filepath.Join(dir, "metadata.jsonl")); got != want {
			t.Errorf("metadata.jsonl:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "a"})
	d1, _ := openT(t, dir, OpenOptions{})
	d2, _ := openT(t, dir, OpenOptions{})
	must(t, d1.Lock())
	must(t, d1.Lock()) // twice is fine
	err := d2.Lock()
	var le *LockError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder.PID != os.Getpid() {
		t.Fatalf("second Lock: %v", err)
	}
	must(t, d2.SetCaption(0, 0, "from the second window", OriginHuman))
	if err := d2.Save(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Save without the lock: %v", err)
	}
	if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "a" {
		t.Errorf("a.txt written by the window without the lock: %q", got)
	}
	must(t, d1.SetCaption(0, 0, "from the first window", OriginHuman))
	must(t, d1.Save())
	must(t, d1.Close())
	if _, err := os.Stat(filepath.Join(dir, lockRel)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file left after Close: %v", err)
	}
	must(t, d2.Lock())
	if err := d1.Lock(); !errors.Is(err, ErrLocked) {
		t.Errorf("Lock after the other took it: %v", err)
	}
	must(t, d1.ForceLock())
	if err := d2.Save(); !errors.Is(err, ErrLocked) {
		t.Errorf("Save after the lock was forced away: %v", err)
	}
	must(t, d2.Close()) // not its lock any more: leaves it alone
	if _, err := os.Stat(filepath.Join(dir, lockRel)); err != nil {
		t.Errorf("Close removed a lock it no longer held: %v", err)
	}
}

func TestStaleLockIsTakenOver(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.ProcessState.Pid()
	dir := t.TempDir()
	host, _ := os.Hostname()
	writeTree(t, dir, map[string]string{
		"a.jpg":                            "",
		lockRel:                            `{"pid":` + strconv.Itoa(deadPID) + `,"host":"` + host + `","since":"2024-01-01T00:00:00Z","token":"dead"}`,
		".a.txt" + atomicfile.Marker + "1": "half-written",
	})
	d, rep := openT(t, dir, OpenOptions{})
	leftover := false
	for _, w := range rep.Warnings {
		leftover = leftover || w.Kind == WarnLeftover
	}
	if !leftover {
		t.Errorf("leftover temporary file not reported: %v", rep.Warnings)
	}
	must(t, d.Lock())
	if tf := tempFiles(t, dir); len(tf) > 0 {
		t.Errorf("Lock left temporary files: %v", tf)
	}
	// A lock from another machine cannot be checked and is respected.
	must(t, d.Close())
	writeTree(t, dir, map[string]string{lockRel: `{"pid":1,"host":"elsewhere","since":"2024-01-01T00:00:00Z","token":"far"}`})
	if err := d.Lock(); !errors.Is(err, ErrLocked) {
		t.Errorf("lock of another host: %v", err)
	}
	// A broken lock file (crash while writing it) is taken over.
	writeTree(t, dir, map[string]string{lockRel: `{"pid":`})
	must(t, d.Lock())
}

func TestAutosaver(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "v0"})
	d, _ := openT(t, dir, OpenOptions{})
	a := NewAutosaver(d, 30*time.Millisecond)
	var errs atomic.Int32
	a.OnError = func(error) { errs.Add(1) }
	var saves atomic.Int32
	d.OnChange(func(c Change) {
		if c.Saved {
			saves.Add(1)
		}
	})
	a.Start(context.Background())
	// A burst of edits makes one save after the delay.
	for k := 1; k <= 5; k++ {
		must(t, d.SetCaption(0, 0, "v"+strconv.Itoa(k), OriginHuman))
	}
	deadline := time.Now().Add(5 * time.Second)
	for saves.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("autosave did not happen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "v5" {
		t.Errorf("autosaved %q, want v5", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := saves.Load(); n != 1 {
		t.Errorf("%d saves for one burst of edits, want 1", n)
	}
	// Stop saves what is pending at once.
	must(t, d.SetCaption(0, 0, "last", OriginHuman))
	must(t, a.Stop())
	if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "last" {
		t.Errorf("after Stop: %q", got)
	}
	if errs.Load() != 0 {
		t.Errorf("%d autosave errors", errs.Load())
	}
	must(t, a.Stop()) // stopping twice is fine
	// Cancelling the context stops it too, also with a final save.
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	must(t, d.SetCaption(0, 0, "after cancel", OriginHuman))
	cancel()
	must(t, a.Stop())
	if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "after cancel" {
		t.Errorf("after cancel: %q", got)
	}
}

func TestAutosaverReportsConflicts(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "v0"})
	d, _ := openT(t, dir, OpenOptions{})
	a := NewAutosaver(d, 10*time.Millisecond)
	got := make(chan error, 10)
	a.OnError = func(err error) { got <- err }
	a.Start(context.Background())
	defer a.Stop()
	writeTree(t, dir, map[string]string{"a.txt": "changed elsewhere"})
	must(t, d.SetCaption(0, 0, "mine", OriginHuman))
	select {
	case err := <-got:
		if !errors.Is(err, ErrConflict) {
			t.Errorf("OnError(%v), want a conflict", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported")
	}
}

func TestProjectFile(t *testing.T) {
	t.Run("corrupt project is kept aside", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "a", projectRel: "{not json"})
		d, rep := openT(t, dir, OpenOptions{})
		bad := false
		for _, w := range rep.Warnings {
			bad = bad || w.Kind == WarnMalformed && w.File == projectRel
		}
		if !bad {
			t.Errorf("corrupt project not reported: %v", rep.Warnings)
		}
		must(t, d.SetState(0, 0, StateApproved))
		must(t, d.Save())
		if got := readFileT(t, filepath.Join(dir, projectRel+".bad")); got != "{not json" {
			t.Errorf("backup = %q", got)
		}
		d2, _ := openT(t, dir, OpenOptions{})
		if s := d2.Item(0).Captions[0].State; s != StateApproved {
			t.Errorf("state after reopen: %s", s)
		}
	})
	t.Run("entries of images not opened are kept", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "a", "sub/b.jpg": "", "sub/b.txt": "b"})
		d, _ := openT(t, dir, OpenOptions{Recursive: true})
		must(t, d.SetState(1, 0, StateApproved))
		must(t, d.Save())
		flat, _ := openT(t, dir, OpenOptions{}) // does not see sub/b.jpg
		must(t, flat.SetState(0, 0, StateRejected))
		must(t, flat.Save())
		d2, _ := openT(t, dir, OpenOptions{Recursive: true})
		want := []State{StateRejected, StateApproved}
		got := []State{d2.Item(0).Captions[0].State, d2.Item(1).Captions[0].State}
		if df := diff(want, got); df != "" {
			t.Errorf("states %s", df)
		}
	})
	t.Run("a caption edited by another tool becomes unreviewed", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": "one\ntwo"})
		d, _ := openT(t, dir, OpenOptions{})
		must(t, d.SetState(0, 0, StateApproved))
		must(t, d.SetState(0, 1, StateApproved))
		must(t, d.Save())
		writeTree(t, dir, map[string]string{"a.txt": "one\ntwo changed"})
		d2, _ := openT(t, dir, OpenOptions{})
		want := []Caption{{"one", OriginImported, StateApproved}, {"two changed", OriginImported, StateUnreviewed}}
		if df := diff(want, d2.Item(0).Captions); df != "" {
			t.Errorf("captions %s", df)
		}
	})
}
