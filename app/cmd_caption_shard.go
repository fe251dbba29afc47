package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/hub"
)

// shardFlags are captune caption's flags for captioning a large folder on several machines.
type shardFlags struct {
	shard, skipDone *string
}

func addShardFlags(fs *flag.FlagSet) shardFlags {
	return shardFlags{
		shard: fs.String("shard", "", "caption only part I of N (e.g. 2/8) of the images, split by a hash of their paths within the folders given: "+
			"the same on every machine, and adding images moves none"),
		skipDone: fs.String("skip-done", "", "skip the images a previous output FILE (of --json or the default lines) already has, to resume it; "+
			"a line cut short at its end is removed from FILE so the output can be appended to it"),
	}
}

// check refuses a malformed or out-of-range --shard before anything is loaded.
func (f shardFlags) check() error {
	if *f.shard == "" {
		return nil
	}
	if _, err := annotate.ParseShard(*f.shard); err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("--shard: %w", err)}
	}
	return nil
}

// apply keeps the paths of the shard that the --skip-done file does not hold yet, and says on
// stderr what it left out.
func (f shardFlags) apply(env *Env, args, paths []string) ([]string, error) {
	all := len(paths)
	if *f.shard != "" {
		s, err := annotate.ParseShard(*f.shard)
		if err != nil {
			return nil, &ExitError{Code: 2, Err: fmt.Errorf("--shard: %w", err)}
		}
		var kept []string
		for _, p := range paths {
			if s.Has(shardKey(args, p)) {
				kept = append(kept, p)
			}
		}
		paths = kept
		fmt.Fprintf(env.Stderr, "shard %s: %d of %d images\n", s, len(paths), all)
	}
	if *f.skipDone != "" {
		done, err := readDone(env, *f.skipDone)
		if err != nil {
			return nil, err
		}
		var todo []string
		for _, p := range paths {
			if !done[p] && !done[shardKey(args, p)] {
				todo = append(todo, p)
			}
		}
		fmt.Fprintf(env.Stderr, "%s: %d images already captioned, %d to go\n", *f.skipDone, len(paths)-len(todo), len(todo))
		paths = todo
	}
	return paths, nil
}

// shardKey names an image for sharding: its path relative to the folder argument it was found
// in (slash-separated), so that machines mounting the folder at different places agree; an image
// given as a file is named by the path as given.
func shardKey(args []string, p string) string {
	for _, a := range args {
		if st, err := os.Stat(a); err != nil || !st.IsDir() {
			continue
		}
		if rel, err := filepath.Rel(a, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(p)
}

// readDone returns the images a captioning output names (the "file" and "rel" of --json lines,
// the first column of tab-separated ones). A missing file names none. A last line without its
// newline (the run was killed while writing it) is cut from the file, so that output appended to
// it starts on a line of its own.
func readDone(env *Env, path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--skip-done: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		if err := os.Truncate(path, int64(i+1)); err != nil {
			return nil, fmt.Errorf("--skip-done: cut the partial last line of %s: %w", path, err)
		}
		fmt.Fprintf(env.Stderr, "%s: removed a partial last line (a killed run's)\n", path)
		data = data[:i+1]
	}
	done := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var row captionRow
		if len(line) > 0 && line[0] == '{' && json.Unmarshal(line, &row) == nil {
			done[row.File] = true
			if row.Rel != "" {
				done[row.Rel] = true
			}
			continue
		}
		if file, _, ok := strings.Cut(string(line), "\t"); ok {
			done[file] = true
		}
	}
	delete(done, "")
	return done, sc.Err()
}

// captionRow is a --json line of captune caption.
type captionRow struct {
	File    string  `json:"file"`
	Rel     string  `json:"rel,omitempty"` // the path within the folder given (see shardKey)
	Caption string  `json:"caption"`
	Model   string  `json:"model,omitempty"`
	Tokens  []int64 `json:"tokens,omitempty"`
}

// captionJSON is the --json line of one caption of captune caption: the file as found, the path
// within the folder given (what --shard hashes and merge-captions matches), the model's name
// (merge-captions records it as the caption's origin), the caption and its tokens.
func captionJSON(args []string, file, modelDir string, c inference.Caption) map[string]any {
	return map[string]any{"file": file, "rel": shardKey(args, file), "model": hub.ModelName(modelDir), "caption": c.Text, "tokens": c.Tokens}
}
