package ui

// wait blocks until the running training goroutine has ended.
func (t *finetuneTab) wait() {
	if t.done != nil {
		<-t.done
	}
}
