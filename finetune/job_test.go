package finetune

import (
	"path/filepath"
	"testing"
)

// Images keep their dataset paths in a job, flattened so that no folder reads as a split to
// Hugging Face datasets, and never two under one name.
func TestJobImageName(t *testing.T) {
	root := filepath.FromSlash("/data/set")
	used := map[string]bool{}
	tests := []struct {
		image string
		i     int
		want  string
	}{
		{"/data/set/a.png", 0, "a.png"},
		{"/data/set/photos/val/b.jpg", 1, "photos__val__b.jpg"},
		{"/data/set/test/c.jpg", 2, "test__c.jpg"},
		{"/data/set/photos__val__b.jpg", 3, "3_photos__val__b.jpg"},
		{"/elsewhere/d.png", 4, "4_d.png"},
	}
	for _, tc := range tests {
		if got := jobImageName(filepath.FromSlash(tc.image), root, tc.i, used); got != tc.want {
			t.Errorf("jobImageName(%s) = %q, want %q", tc.image, got, tc.want)
		}
	}
}
