package trainlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The layout of a job folder that captune export-job writes and its train.py fills in.
const (
	JobSettingsFile = "job.json"   // the job's settings; its base_model names the base model
	JobBaseDir      = "base_model" // the base model's files, when it is a local folder
	JobOutputDir    = "output"     // where train.py writes FileName, checkpoints and the model
)

// Run is a folder whose training can be watched: an exported job, or a run folder of captune
// finetune (or of train.py's --out).
type Run struct {
	Dir  string // what was opened
	Out  string // the folder with the log and, once finished, the model
	Base string // the base model: a folder, or a hub repo id when BaseIsHub; "" when unknown
	// BaseIsHub says Base is a Hugging Face repo id (the job downloads it), not a folder.
	BaseIsHub    bool
	BaseRevision string // the hub commit the job was exported with, when BaseIsHub
	IsJob        bool
}

// OpenRun reads what dir is: a job folder (with JobSettingsFile; its output is JobOutputDir, which
// may not exist yet) or a run folder holding FileName.
func OpenRun(dir string) (Run, error) {
	r := Run{Dir: dir, Out: dir}
	data, err := os.ReadFile(filepath.Join(dir, JobSettingsFile))
	if err != nil {
		if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
			return r, fmt.Errorf("%s is neither a training job (no %s) nor a run folder (no %s)", dir, JobSettingsFile, FileName)
		}
		return r, nil
	}
	var st struct {
		BaseModel    string `json:"base_model"`
		BaseRevision string `json:"base_revision"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return r, fmt.Errorf("read %s: %w", filepath.Join(dir, JobSettingsFile), err)
	}
	r.IsJob, r.Out = true, filepath.Join(dir, JobOutputDir)
	switch local := filepath.Join(dir, st.BaseModel); {
	case st.BaseModel == "":
	case filepath.IsAbs(st.BaseModel):
		r.Base = st.BaseModel
	case isDir(local):
		r.Base = local
	default:
		r.Base, r.BaseIsHub, r.BaseRevision = st.BaseModel, true, st.BaseRevision
	}
	return r, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// ModelReady reports whether the run's model is complete: for a job, as the package's ModelReady
// says of its output; for a run folder of captune finetune (which writes its model last, each file
// atomically, with its checkpoints in a subfolder), once config.json and the weights are there.
func (r Run) ModelReady() (bool, error) {
	if r.IsJob {
		return ModelReady(r.Out)
	}
	if _, err := os.Stat(filepath.Join(r.Out, "config.json")); err != nil {
		return false, nil
	}
	for _, f := range WeightFiles {
		if _, err := os.Stat(filepath.Join(r.Out, f)); err == nil {
			return true, nil
		}
	}
	return false, nil
}
