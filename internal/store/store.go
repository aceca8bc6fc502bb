// Package store holds what the storage adapters (internal/store/dynamo,
// internal/store/memory) share so that they behave alike: the listing order
// of resources named by a unique, case-folded name, and the size limits.
// internal/store/storetest checks that they do.
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// ListingKey returns the place of a resource named name (userName, or a
// group's displayName) in the listing order: the bucket (two hex digits of
// the first byte of the SHA-256 of the folded name), "#", then the folded
// name. Keys compare as byte strings, which is both Go's string order and
// DynamoDB's sort-key order, so every store lists in this order. The bucket
// spreads a tenant's resources over 256 fixed ranges, which lets DynamoDB
// page by counters instead of reading everything before a position.
func ListingKey(name string) string {
	folded := scim.Fold(name)
	sum := sha256.Sum256([]byte(folded))
	return hex.EncodeToString(sum[:1]) + "#" + folded
}

// Bucket returns the bucket of a listing key (its first two characters).
func Bucket(listingKey string) string { return listingKey[:2] }

// Size limits. They are DynamoDB's (an item of at most 400 KB, a sort key of
// at most 1,024 bytes) with room for the rest of the item and the key
// prefixes; every store enforces them, so what one accepts the other does.
const (
	// MaxDocBytes bounds the JSON document of a resource's attributes.
	MaxDocBytes = 350 * 1024
	// maxSortKey is DynamoDB's limit on a sort key.
	maxSortKey = 1024
	// namePrefix is the longest prefix before a listing key ("U#", "G#").
	namePrefix = len("U#")
	// extPrefix is the longest fixed part of an externalId pointer's key
	// around the value and the id: "X#U#", the length, ":" and "#".
	extPrefix = len("X#U#") + len(":") + len("#")
)

// MaxSortKey is DynamoDB's limit on a sort key, in bytes. A key longer
// than it names no item: no store ever wrote one (CheckLimits refuses the
// values that would make one), and a read of one is not a question
// DynamoDB answers (it is a ValidationException, not "absent").
const MaxSortKey = maxSortKey

// KeyFits reports whether sk can be a sort key (of at most MaxSortKey
// bytes). The DynamoDB store's reads check every key they build with it, so
// that any lookup value too long to be part of a key (a userName, a
// displayName, an externalId, after folding) finds nothing instead of
// failing; the in-memory store finds nothing for such a value because it
// never stored one.
func KeyFits(sk string) bool { return len(sk) <= maxSortKey }

// NameFits reports whether name (a userName, a group's displayName) can
// name a stored resource: whether its listing key, folded, fits a sort key
// after the longest prefix. It is the test CheckLimits applies on writes,
// so a name that does not fit is one no store holds. Folding can make a
// name longer (U+0390 is 2 bytes and folds to 6), so the test is on the
// folded form, never on the value as sent.
func NameFits(name string) bool { return namePrefix+len(ListingKey(name)) <= maxSortKey }

// CheckLimits returns scim.ErrTooLarge when doc (the attributes as JSON) is
// too large to store, and a 400 invalidValue error when the name (the
// attribute nameAttr: userName, displayName) or the externalId (with the
// resource's id) is too long to be part of a key.
func CheckLimits(doc []byte, nameAttr, name, externalID, id string) error {
	if len(doc) > MaxDocBytes {
		return scim.ErrTooLarge
	}
	if !NameFits(name) {
		return scim.BadRequest(scim.ScimTypeInvalidValue, "%s is too long", nameAttr)
	}
	if extPrefix+len(strconv.Itoa(len(externalID)))+len(externalID)+len(id) > maxSortKey {
		return scim.BadRequest(scim.ScimTypeInvalidValue, "externalId is too long")
	}
	return nil
}

// Memberships are written in DynamoDB transactions of at most MaxTxItems
// items: a member change is two items (the membership and the user's
// item), and every transaction also writes the group's item, one version
// on. A group write whose member changes do not fit one transaction takes
// several, and the group's version counts one per transaction; these
// functions compute how many, so that every store's versions agree.
const (
	// MaxTxItems is DynamoDB's limit on the items of one transaction.
	MaxTxItems = 100
	// MembersPerTx is the most member changes a transaction holds beside
	// the group's item.
	MembersPerTx = (MaxTxItems - 1) / 2
)

// CreateRoom is the room for members in the first transaction of a group
// create, beside the group's item, id pointer, bucket counter and
// externalId pointer.
const CreateRoom = (MaxTxItems - 4) / 2

// UpdateRoom returns the room for member changes in the first transaction
// of a group update from prev to next (names and externalIds), beside the
// group's write: its item, or on a change of the folded name the old item's
// delete, the new item, the id pointer and, across buckets, two counters;
// and the externalId pointers when the externalId changes.
func UpdateRoom(prevName, nextName, prevExt, nextExt string) int {
	items := 1
	if pk, nk := ListingKey(prevName), ListingKey(nextName); pk != nk {
		items = 3
		if Bucket(pk) != Bucket(nk) {
			items += 2
		}
	}
	if prevExt != nextExt {
		for _, e := range []string{prevExt, nextExt} {
			if e != "" {
				items++
			}
		}
	}
	return (MaxTxItems - items) / 2
}

// Transactions returns how many transactions changes member changes take
// when the first has room for first of them and each other for
// MembersPerTx: 1 for none.
func Transactions(changes, first int) int {
	if changes <= first {
		return 1
	}
	return 1 + (changes-first+MembersPerTx-1)/MembersPerTx
}
