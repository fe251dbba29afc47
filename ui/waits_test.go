package ui

// wait blocks until the running training goroutine has ended.
func (t *finetuneTab) wait() {
	var done chan struct{}
	onUIWait(func() { done = t.done }) // launch sets it on the UI goroutine
	if done != nil {
		<-done
	}
	onUIWait(func() {}) // and the callbacks the goroutine queued last
}
