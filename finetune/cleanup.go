package finetune

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/captune/captune/internal/atomicfile"
)

// removeStaleTemps removes what a killed run left in a run folder and returns how many it removed:
// the temporary files and folders named by atomicfile whose writer no longer runs (the model files
// Save writes there, half-written checkpoint folders in checkpoints, old checkpoints whose removal
// was cut short), and the half-written checkpoint folders of older versions (.step-NNNNNN.tmp,
// which record no process id). Run calls it once it owns the folder (empty, --overwrite or
// --resume); two runs must not share a folder at once, as they already must not for their
// checkpoints. A folder that cannot be listed only keeps its leftovers.
func removeStaleTemps(outDir string) int {
	n := 0
	root := filepath.Join(outDir, "checkpoints")
	for _, dir := range []string{outDir, root} {
		m, _ := atomicfile.CleanStale(dir)
		n += m
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".step-") && strings.HasSuffix(e.Name(), ".tmp") {
			if os.RemoveAll(filepath.Join(root, e.Name())) == nil {
				n++
			}
		}
	}
	return n
}
