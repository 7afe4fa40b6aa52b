package webhook

// UnverifiedInUse is the number of bytes of unverified bodies held now.
func (rc *Receiver) UnverifiedInUse() int64 { return rc.budget.inUse.Load() }

// UnverifiedPeak is the most bytes of unverified bodies ever held at once.
func (rc *Receiver) UnverifiedPeak() int64 { return rc.budget.peak.Load() }
