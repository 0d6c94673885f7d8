package fakeapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmdispatch/vmdispatch/engine"
)

// listFixture is a small queue; UUIDs are "ctr-<letter>".
func listFixture() []engine.Container {
	c := func(uuid string, base engine.Container, priority int64) engine.Container {
		base.UUID, base.Priority = uuid, priority
		return base
	}
	return []engine.Container{
		c("ctr-h", queued(0), 5),
		c("ctr-a", queued(0), 5),
		c("ctr-b", queued(0), 0),
		c("ctr-c", queued(0), 9),
		c("ctr-d", locked(me, 1), 3),
		c("ctr-e", running(me), 1),
		c("ctr-f", locked(other, 1), 7),
		c("ctr-g", complete(0), 8),
	}
}

func uuids(cs []engine.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.UUID)
	}
	return out
}

func TestList(t *testing.T) {
	s, _ := newStore(t, 0, listFixture()...)
	for _, tc := range []struct {
		name string
		f    Filter
		want []string
	}{
		{"everything by uuid", Filter{}, []string{"ctr-a", "ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-g", "ctr-h"}},
		{"explicit uuid order", Filter{Order: OrderUUID}, []string{"ctr-a", "ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-g", "ctr-h"}},
		{"priority desc, ties by uuid", Filter{Order: OrderPriorityDesc},
			[]string{"ctr-c", "ctr-g", "ctr-f", "ctr-a", "ctr-h", "ctr-d", "ctr-e", "ctr-b"}},
		{"available: Queued and priority > 0", Filter{States: []engine.ContainerState{engine.Queued}, PriorityAbove: ptr(int64(0)), Order: OrderPriorityDesc},
			[]string{"ctr-c", "ctr-a", "ctr-h"}},
		{"state in set", Filter{States: []engine.ContainerState{engine.Locked, engine.Running}}, []string{"ctr-d", "ctr-e", "ctr-f"}},
		{"priority > 5", Filter{PriorityAbove: ptr(int64(5))}, []string{"ctr-c", "ctr-f", "ctr-g"}},
		{"priority > -1 is everything", Filter{PriorityAbove: ptr(int64(-1))}, []string{"ctr-a", "ctr-b", "ctr-c", "ctr-d", "ctr-e", "ctr-f", "ctr-g", "ctr-h"}},
		{"mine", Filter{LockedByUUID: me}, []string{"ctr-d", "ctr-e"}},
		{"mine after ctr-d", Filter{LockedByUUID: me, UUIDAfter: "ctr-d"}, []string{"ctr-e"}},
		{"uuid in set", Filter{UUIDs: []string{"ctr-g", "ctr-b", "ctr-zz"}}, []string{"ctr-b", "ctr-g"}},
		{"uuid in empty set", Filter{UUIDs: []string{}}, nil},
		{"conditions are ANDed", Filter{UUIDs: []string{"ctr-a", "ctr-b", "ctr-d"}, States: []engine.ContainerState{engine.Queued}, PriorityAbove: ptr(int64(0))},
			[]string{"ctr-a"}},
		{"limit", Filter{Limit: 3}, []string{"ctr-a", "ctr-b", "ctr-c"}},
		{"offset", Filter{Offset: 6}, []string{"ctr-g", "ctr-h"}},
		{"offset and limit after ordering", Filter{Order: OrderPriorityDesc, Offset: 2, Limit: 2}, []string{"ctr-f", "ctr-a"}},
		{"offset past the end", Filter{Offset: 100}, nil},
		{"negative limit and offset are ignored", Filter{Limit: -1, Offset: -1, LockedByUUID: other}, []string{"ctr-f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, uuids(s.List(tc.f))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Count is the size of the whole selection, before paging.
			all := tc.f
			all.Limit, all.Offset = 0, 0
			if got, want := s.Count(tc.f), len(s.List(all)); got != want {
				t.Errorf("Count = %d, want %d", got, want)
			}
		})
	}
}

// TestListPaging pages through the dispatcher's polls as it does.
func TestListPaging(t *testing.T) {
	s, _ := newStore(t, 0, listFixture()...)
	for _, uuid := range []string{"ctr-a", "ctr-c", "ctr-h"} {
		_, err := s.Lock(me, uuid)
		mustOK(t, err)
	}

	// Keyset paging: append uuid > last until an empty page.
	var mine []string
	f := Filter{LockedByUUID: me, Order: OrderUUID, Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("keyset paging does not end")
		}
		page := s.List(f)
		if len(page) == 0 {
			break
		}
		mine = append(mine, uuids(page)...)
		f.UUIDAfter = page[len(page)-1].UUID
	}
	if diff := cmp.Diff([]string{"ctr-a", "ctr-c", "ctr-d", "ctr-e", "ctr-h"}, mine); diff != "" {
		t.Errorf("mine (-want +got):\n%s", diff)
	}

	// Offset paging over the available containers.
	mustOK(t, s.SetPriority("ctr-b", 2))
	mustOK(t, s.Add(engine.Container{UUID: "ctr-i", Priority: 2}))
	var available []string
	f = Filter{States: []engine.ContainerState{engine.Queued}, PriorityAbove: ptr(int64(0)), Order: OrderPriorityDesc, Limit: 1}
	for ; ; f.Offset += f.Limit {
		if f.Offset > 10 {
			t.Fatal("offset paging does not end")
		}
		page := s.List(f)
		if len(page) == 0 {
			break
		}
		available = append(available, uuids(page)...)
	}
	if diff := cmp.Diff([]string{"ctr-b", "ctr-i"}, available); diff != "" {
		t.Errorf("available (-want +got):\n%s", diff)
	}
}

func TestOrderValid(t *testing.T) {
	for o, want := range map[Order]bool{"": true, OrderUUID: true, OrderPriorityDesc: true, "created_at": false, "priority": false} {
		if got := o.Valid(); got != want {
			t.Errorf("Order(%q).Valid() = %v, want %v", o, got, want)
		}
	}
	s, _ := newStore(t, 0, queued(1))
	defer func() {
		if recover() == nil {
			t.Error("List with an unknown order did not panic")
		}
	}()
	s.List(Filter{Order: "created_at"})
}
