package desk

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ccd-platform/ccd/agentdesk"
)

// Limits of a customer profile.
const (
	maxPhones   = 20
	maxContacts = 100
	maxText     = 200
	maxNotes    = 10000
)

// NormalizePhone reduces a phone number to what is stored and searched:
// digits with an optional leading +, separators (space - . ( ) /) dropped;
// 3 to 20 digits.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && i == 0:
			b.WriteRune(r)
		case strings.ContainsRune(" -.()/", r):
		default:
			return "", invalidf("phone number %q: digits only, with an optional leading +", clean(s, 40))
		}
	}
	if digits < 3 || digits > 20 {
		return "", invalidf("phone number %q: 3 to 20 digits", clean(s, 40))
	}
	return b.String(), nil
}

// customerBody is a customer as POST and PUT take it.
type customerBody struct {
	ID       CustomerID `json:"id"`
	Name     string     `json:"name"`
	Level    Level      `json:"level"`
	Company  string     `json:"company"`
	Phones   []string   `json:"phones"`
	Contacts []Contact  `json:"contacts"`
	Notes    string     `json:"notes"`
	// Read back from GET and ignored.
	CreatedAt any `json:"created_at"`
	UpdatedAt any `json:"updated_at"`
}

func text(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case required && s == "":
		return "", invalidf("%s is required", field)
	case utf8.RuneCountInString(s) > max:
		return "", invalidf("%s: at most %d characters", field, max)
	case strings.ContainsRune(s, 0):
		return "", invalidf("%s: contains NUL", field)
	}
	return s, nil
}

// customer validates and normalises a body into a Customer.
func (b customerBody) customer() (Customer, error) {
	c := Customer{ID: b.ID, Level: b.Level, Phones: []string{}, Contacts: []Contact{}}
	var err error
	if c.Name, err = text("name", b.Name, maxText, true); err != nil {
		return c, err
	}
	if c.Company, err = text("company", b.Company, maxText, false); err != nil {
		return c, err
	}
	if c.Notes, err = text("notes", b.Notes, maxNotes, false); err != nil {
		return c, err
	}
	if c.Level == "" {
		c.Level = LevelPotential
	}
	if !c.Level.Valid() {
		return c, invalidf("level %q: one of potential, individual, company, vip", b.Level)
	}
	if len(b.Phones) > maxPhones {
		return c, invalidf("phones: at most %d", maxPhones)
	}
	for _, p := range b.Phones {
		n, err := NormalizePhone(p)
		if err != nil {
			return c, err
		}
		if !slices.Contains(c.Phones, n) {
			c.Phones = append(c.Phones, n)
		}
	}
	if len(b.Contacts) > maxContacts {
		return c, invalidf("contacts: at most %d", maxContacts)
	}
	for i, k := range b.Contacts {
		var err error
		field := func(f string) string { return fmt.Sprintf("contacts[%d].%s", i, f) }
		if k.Name, err = text(field("name"), k.Name, maxText, true); err != nil {
			return c, err
		}
		if k.Email, err = text(field("email"), k.Email, 254, false); err != nil {
			return c, err
		}
		if k.Email != "" && !strings.Contains(k.Email, "@") {
			return c, invalidf("%s %q is not an e-mail address", field("email"), k.Email)
		}
		if k.Role, err = text(field("role"), k.Role, maxText, false); err != nil {
			return c, err
		}
		if k.Company, err = text(field("company"), k.Company, maxText, false); err != nil {
			return c, err
		}
		if k.Phone != "" {
			if k.Phone, err = NormalizePhone(k.Phone); err != nil {
				return c, fmt.Errorf("%s: %w", field("phone"), err)
			}
		}
		c.Contacts = append(c.Contacts, k)
	}
	return c, nil
}

// changedFields names the fields that differ (the audit keeps names, not
// the personal data itself).
func changedFields(a, b Customer) []string {
	var out []string
	if a.Name != b.Name {
		out = append(out, "name")
	}
	if a.Level != b.Level {
		out = append(out, "level")
	}
	if a.Company != b.Company {
		out = append(out, "company")
	}
	if !slices.Equal(a.Phones, b.Phones) {
		out = append(out, "phones")
	}
	if !slices.Equal(a.Contacts, b.Contacts) {
		out = append(out, "contacts")
	}
	if a.Notes != b.Notes {
		out = append(out, "notes")
	}
	return out
}

func customerID(s string) (CustomerID, error) {
	if _, err := uuid.Parse(s); err != nil {
		return "", fmt.Errorf("%w: customer %q", ErrNotFound, clean(s, 64))
	}
	return CustomerID(s), nil
}

// findCustomers serves GET /api/v1/customers?phone=.
func (d *Desk) findCustomers(w http.ResponseWriter, r *http.Request) {
	phone, err := NormalizePhone(r.URL.Query().Get("phone"))
	if err != nil {
		d.fail(w, r, fmt.Errorf("phone=: %w", err))
		return
	}
	list, err := d.store.CustomersByPhone(r.Context(), phone, 20)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Customer{}
	}
	agentdesk.WriteJSON(w, http.StatusOK, map[string]any{"customers": list})
}

func (d *Desk) getCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := customerID(r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	c, err := d.store.Customer(r.Context(), id)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	agentdesk.WriteJSON(w, http.StatusOK, c)
}

const maxCustomerBytes = 256 << 10

// createCustomer serves POST /api/v1/customers: typically an agent typing in
// a new caller's details.
func (d *Desk) createCustomer(w http.ResponseWriter, r *http.Request) {
	n := note(r)
	n.action = "customer.create"
	var b customerBody
	err := decodeStrict(r, maxCustomerBytes, &b)
	if err == nil && b.ID != "" {
		err = invalidf("id is given by the server: leave it out")
	}
	var c Customer
	if err == nil {
		c, err = b.customer()
	}
	if err == nil {
		c, err = d.store.CreateCustomer(r.Context(), c)
	}
	if err != nil {
		d.fail(w, r, err)
		return
	}
	n.target = string(c.ID)
	n.detail = map[string]any{"fields": changedFields(Customer{}, c), "level": c.Level}
	agentdesk.WriteJSON(w, http.StatusCreated, c)
}

// updateCustomer serves PUT /api/v1/customers/{id}: the whole profile.
func (d *Desk) updateCustomer(w http.ResponseWriter, r *http.Request) {
	n := note(r)
	n.action, n.target = "customer.update", r.PathValue("id")
	id, err := customerID(r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	var b customerBody
	err = decodeStrict(r, maxCustomerBytes, &b)
	if err == nil && b.ID != "" && b.ID != id {
		err = invalidf("id %q in the body differs from %q in the path", b.ID, id)
	}
	var c Customer
	if err == nil {
		c, err = b.customer()
		c.ID = id
	}
	var before Customer
	if err == nil {
		before, err = d.store.Customer(r.Context(), id)
	}
	if err == nil {
		c, err = d.store.UpdateCustomer(r.Context(), c)
	}
	if err != nil {
		d.fail(w, r, err)
		return
	}
	n.detail = map[string]any{"changed": changedFields(before, c), "level": c.Level}
	agentdesk.WriteJSON(w, http.StatusOK, c)
}
