package engine

import (
	"maps"
	"time"
)

const (
	quotaErrorTTL    = time.Minute
	capacityErrorTTL = time.Minute
	// missingListsGone is how many successful listings in a row may omit
	// a VM before it is taken as gone: listings are eventually
	// consistent, so one omission of a new VM proves nothing.
	missingListsGone = 2
)

func (e *Engine) onListed(ev VMsListed) {
	cv := &e.cfg.Containers.CloudVMs
	e.listing = false
	if ev.Err != nil {
		if ev.Err.Kind == CloudRateLimit {
			e.listRetryAt = ev.Err.RetryAt
		}
		e.listDue = e.now.Add(cv.SyncInterval)
		return
	}
	e.listDue = e.now.Add(cv.SyncInterval)
	e.listed = true
	e.listings++
	if e.listings == 2 {
		e.dirty = true // creates are allowed from now on
	}

	if e.quotaUntilFewer > 0 && len(ev.VMs) < e.quotaUntilFewer {
		// Some instances went away: quota may allow a create again.
		e.quotaUntilFewer = 0
	}
	// VMs in this listing are stamped with its number, so those missing
	// are found without a set of the listing's IDs.
	for i := range ev.VMs {
		cvm := &ev.VMs[i]
		if v := e.vms[cvm.ID]; v != nil {
			v.listed = e.listings
			e.relisted(v, cvm, ev.Start)
			continue
		}
		if v := e.adopt(cvm); v != nil {
			v.listed = e.listings
		}
	}
	for _, v := range append([]*vm(nil), e.sortedVMs()...) {
		if v.listed == e.listings {
			continue
		}
		if v.state == VMShutdown && v.destroyed {
			e.forgetVM(v)
			continue
		}
		if !v.appeared.Before(ev.Start) {
			continue // created after the listing started
		}
		v.missingLists++
		if v.missingLists >= missingListsGone {
			e.forgetVM(v)
		}
	}
	// Creates whose outcome is unknown are forgotten once listings that
	// started after the answer keep missing them.
	for _, v := range e.sortedCreating() {
		if !v.unknownOutcome || v.answeredAt.After(ev.Start) {
			continue
		}
		v.missingLists++
		if v.missingLists >= missingListsGone {
			// Never created: whoever waited for it needs another VM.
			e.candDirty = true
			e.dirty = true
			delete(e.creating, v.secret)
			e.committed -= v.price()
		}
	}
}

// relisted updates a known VM from a listing.
func (e *Engine) relisted(v *vm, cvm *CloudVM, start time.Time) {
	v.missingLists = 0
	v.address = cvm.Address
	if !v.tagging && !maps.Equal(v.cloudTags, cvm.Tags) {
		v.cloudTags = copyTags(cvm.Tags)
	}
	if v.state == VMShutdown {
		// Still listed after TimeoutShutdown: destroy again.
		if !v.destroying && !e.now.Before(v.destroyRequested.Add(e.cfg.Containers.CloudVMs.TimeoutShutdown)) {
			v.destroying = true
			v.destroyRequested = e.now
			e.emit(DestroyVM{ID: v.id, Reason: ReasonShutdownRetry})
		}
		return
	}
	e.saveTags(v)
}

// adopt registers a VM found in a listing: one of our creates (matched
// by its secret tag) or one left by a previous dispatcher process, and
// returns it.
func (e *Engine) adopt(cvm *CloudVM) *vm {
	secret := cvm.Tags[e.tag(TagInstanceSecret)]
	if p := e.creating[secret]; secret != "" && p != nil {
		delete(e.creating, secret)
		e.committed -= p.price()
		if p.unknownOutcome {
			p.unknownOutcome = false
		} else {
			// The create call is still in flight; its answer will find
			// the VM by secret.
			e.createsInFlight--
		}
		p.id = cvm.ID
		p.address = cvm.Address
		p.providerType = cvm.ProviderType
		p.cloudTags = copyTags(cvm.Tags)
		p.missingLists = 0
		e.addVM(p)
		e.saveTags(p)
		return p
	}
	typeName := cvm.Tags[e.tag(TagInstanceType)]
	v := &vm{
		id:           cvm.ID,
		secret:       secret,
		typeName:     typeName,
		providerType: cvm.ProviderType,
		address:      cvm.Address,
		state:        VMUnknown,
		idle:         IdleBehavior(cvm.Tags[e.tag(TagIdleBehavior)]),
		cloudTags:    copyTags(cvm.Tags),
		appeared:     e.now,
		busy:         e.now,
	}
	if !v.idle.Valid() {
		v.idle = IdleRun
	}
	if it, ok := e.cfg.InstanceTypes[typeName]; ok {
		v.it = &it
	} else if v.idle != IdleHold {
		// The type was removed from the config: let running containers
		// finish, then shut the VM down.
		v.idle = IdleDrain
		v.destroyReason = ReasonUnknownTypeDrain
	}
	e.addVM(v)
	e.saveTags(v)
	return v
}

func copyTags(t map[string]string) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// create asks the cloud for a VM of type it and returns the pending VM.
func (e *Engine) create(typeName string, it *InstanceType) *vm {
	secret := e.newSecret()
	v := &vm{
		secret:      secret,
		typeName:    typeName,
		it:          it,
		state:       VMBooting,
		idle:        IdleRun,
		createdByUs: true,
		appeared:    e.now,
		busy:        e.now,
	}
	e.creating[secret] = v
	e.candDirty = true
	e.committed += v.price()
	e.createsInFlight++
	tags := map[string]string{}
	for k, val := range e.cfg.Containers.CloudVMs.ResourceTags {
		tags[k] = val
	}
	tags[e.tag(TagInstanceSetID)] = e.cfg.InstanceSetID
	tags[e.tag(TagInstanceType)] = typeName
	tags[e.tag(TagIdleBehavior)] = string(IdleRun)
	tags[e.tag(TagInstanceSecret)] = secret
	v.cloudTags = tags
	e.emit(CreateVM{
		Secret:      secret,
		Type:        *it,
		TypeName:    typeName,
		Tags:        copyTags(tags),
		InitCommand: InitCommand(secret, e.cfg.Containers.CloudVMs.InstanceInitCommand),
	})
	return v
}

func (e *Engine) onCreated(ev VMCreated) {
	e.dirty = true
	e.candDirty = true
	p := e.creating[ev.Secret]
	if p == nil {
		// Already matched by a listing (then the VM is in e.vms), or a
		// create from before a restart: nothing to do.
		if ev.VM != nil {
			for _, v := range e.vms {
				if v.secret == ev.Secret && v.createdByUs && v.address == "" {
					v.address = ev.VM.Address
				}
			}
		}
		return
	}
	if p.unknownOutcome {
		return
	}
	e.createsInFlight--
	if ev.Err == nil && ev.VM != nil {
		delete(e.creating, ev.Secret)
		e.committed -= p.price()
		p.id = ev.VM.ID
		p.address = ev.VM.Address
		p.providerType = ev.VM.ProviderType
		if e.vms[p.id] == nil {
			e.addVM(p)
		}
		if p.idle == IdleDrain {
			e.shutdown(p, ReasonDrained)
		}
		return
	}
	err := ev.Err
	if err == nil {
		err = &CloudError{Kind: CloudTransient, Message: "create returned no instance"}
	}
	switch err.Kind {
	case CloudUnknownOutcome:
		p.unknownOutcome = true
		p.answeredAt = e.now
		return
	case CloudQuota:
		n := len(e.vms) + len(e.creating) - 1
		if n < 1 {
			e.quotaUntil = e.now.Add(quotaErrorTTL)
		} else if e.quotaUntilFewer == 0 || n < e.quotaUntilFewer {
			e.quotaUntilFewer = n
		}
	case CloudCapacity:
		e.capacityUntil[e.capacityKey(p.it, err)] = e.now.Add(capacityErrorTTL)
	case CloudRateLimit:
		if err.RetryAt.After(e.createRetryAt) {
			e.createRetryAt = err.RetryAt
		}
	}
	delete(e.creating, ev.Secret)
	e.committed -= p.price()
}

// capacityKey names what a capacity error covers: one type (and
// preemptibility), a quota group, or everything.
func (e *Engine) capacityKey(it *InstanceType, err *CloudError) string {
	switch err.Scope {
	case ScopeType:
		return typeCapacityKey(it)
	case ScopeQuotaGroup:
		return "group:" + err.QuotaGroup
	}
	return "all"
}

func typeCapacityKey(it *InstanceType) string {
	if it.Preemptible {
		return "type:" + it.ProviderType + ",preemptible"
	}
	return "type:" + it.ProviderType
}

// atCapacity reports whether a capacity hold-off covers it.
func (e *Engine) atCapacity(it *InstanceType) bool {
	if t, ok := e.capacityUntil["all"]; ok && e.now.Before(t) {
		return true
	}
	if t, ok := e.capacityUntil[typeCapacityKey(it)]; ok && e.now.Before(t) {
		return true
	}
	if g := e.quotaGroupOf(it); g != "" {
		if t, ok := e.capacityUntil["group:"+g]; ok && e.now.Before(t) {
			return true
		}
	}
	return false
}

// quotaGroupOf is the quota group a type counts against, as the driver
// defines it ("" if the driver has none).
func (e *Engine) quotaGroupOf(it *InstanceType) string {
	if e.quotaGroup == nil {
		return ""
	}
	return e.quotaGroup(*it)
}

// atQuota reports whether the cloud account (or MaxInstances) allows no
// more instances.
func (e *Engine) atQuota() bool {
	max := e.cfg.Containers.CloudVMs.MaxInstances
	return e.quotaUntilFewer > 0 || e.now.Before(e.quotaUntil) ||
		(max > 0 && e.instanceCount() >= max)
}

// instanceCount counts VMs that exist or may exist, shutting down
// included, plus creates in flight.
func (e *Engine) instanceCount() int { return len(e.vms) + len(e.creating) }

func (e *Engine) onDestroyed(ev VMDestroyed) {
	v := e.vms[ev.ID]
	if v == nil {
		return
	}
	v.destroying = false
	switch {
	case ev.Err == nil:
		// Gone once a listing no longer shows it. Until a destroy is
		// confirmed, a VM missing from a listing may just be too new
		// to be listed: it counts as gone only after several.
		v.destroyed = true
	case ev.Err.Kind == CloudNotFound:
		e.forgetVM(v)
	}
	// Otherwise wait for the listing: it proves the VM is gone, or
	// triggers a retry after TimeoutShutdown.
}

// holdoffExpired reports whether a quota, capacity or rate-limit
// hold-off ended since the scheduler last ran, and forgets expired
// capacity hold-offs.
func (e *Engine) holdoffExpired() bool {
	expired := func(t time.Time) bool { return t.After(e.lastSched) && !t.After(e.now) }
	due := expired(e.quotaUntil) || expired(e.createRetryAt) || e.quietPeriodEnded() ||
		(e.limitBinding && !e.now.Before(e.nextRaise))
	for k, t := range e.capacityUntil {
		if !t.After(e.now) {
			due = due || expired(t)
			delete(e.capacityUntil, k)
		}
	}
	return due
}

// quietPeriodEnded reports whether a minute without 503s just ended, so
// that the concurrency limit may rise again.
func (e *Engine) quietPeriodEnded() bool {
	if e.last503.IsZero() {
		return false
	}
	t := e.last503.Add(quietAfter503)
	return t.After(e.lastSched) && t.Before(e.now)
}
