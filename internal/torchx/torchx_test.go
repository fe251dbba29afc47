package torchx

import "testing"

func TestVersionAndThreads(t *testing.T) {
	if got := Version(); got != "2.1.0" {
		t.Errorf("Version() = %q, want 2.1.0 (gotch v0.9.1 is generated for exactly libtorch 2.1.0)", got)
	}
	if CXX11ABI() {
		t.Errorf("CXX11ABI() = true, want false: the PyPI torch wheel uses the pre-C++11 ABI")
	}
	old := NumThreads()
	SetNumThreads(1)
	if got := NumThreads(); got != 1 {
		t.Errorf("after SetNumThreads(1), NumThreads() = %d", got)
	}
	SetNumThreads(old)
}
