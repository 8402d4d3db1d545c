//! A `/v1/score` body read straight into the layout of one model. Takes the body's bytes and
//! the model's [`Layout`]; gives every lead as one row of fields (one per column a rule reads,
//! plus the id), borrowed from the body where the JSON allows, or the problem with the lead
//! and column where reading stopped.
//!
//! Why not `serde_json::Map` per lead: building a map allocates every key and every value of
//! every lead, also the ones no rule reads, and then each rule looks its column up by hashing.
//! With a batch of 1,000 leads that was most of the service's time. Here a `DeserializeSeed`
//! looks each key up once among the model's columns (a few byte comparisons), keeps texts as
//! `&str` into the body (copied only when they hold escapes) and numbers as numbers, and
//! checks the values of other keys without keeping them.
//!
//! Everything a map accepted is accepted, and everything it refused is refused with the same
//! message: the values of keys no rule reads are still read as JSON values (a number too large
//! to be finite is a 422 naming its lead and key), a key given twice keeps its last value, and
//! lists and objects are kept (refused later for a column a rule reads, echoed as sent for the
//! id).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value as Json};

use crate::model::Model;

/// Which key of a lead goes to which field: the columns the model's rules read (sorted, as
/// [`Model::columns`] gives them), then the id column when no rule reads it, then
/// [`EVENTS`] when the model has event rules.
#[derive(Debug)]
pub struct Layout {
    names: Vec<String>,
    /// Fields `0..columns` are read by rules.
    columns: usize,
    id: Option<usize>,
    events: Option<usize>,
    /// Field numbers by the length of their name: a key is found with one or two comparisons
    /// of equal-length bytes, cheaper than hashing it.
    by_len: Vec<Vec<usize>>,
}

impl Layout {
    pub fn new(model: &Model) -> Layout {
        let mut names: Vec<String> = model.columns().into_iter().map(String::from).collect();
        let columns = names.len();
        let id = model.id_column.as_ref().map(|id| {
            names.iter().position(|n| n == id).unwrap_or_else(|| {
                names.push(id.clone());
                names.len() - 1
            })
        });
        // A model whose rules or id read a column of this name is not served (see
        // `state::servable`): the key would be ambiguous.
        let events = model.rules.iter().any(|r| r.event.is_some()).then(|| {
            names.push(EVENTS.into());
            names.len() - 1
        });
        let mut by_len: Vec<Vec<usize>> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if by_len.len() <= n.len() {
                by_len.resize(n.len() + 1, Vec::new());
            }
            by_len[n.len()].push(i);
        }
        Layout {
            names,
            columns,
            id,
            events,
            by_len,
        }
    }

    /// The field of a key, if any column of the model (or its id) has that name.
    #[inline]
    pub fn field(&self, key: &str) -> Option<usize> {
        self.by_len
            .get(key.len())?
            .iter()
            .copied()
            .find(|&i| self.names[i] == key)
    }

    /// The number of fields of a lead.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// The names of the fields rules read, in field order.
    pub fn columns(&self) -> &[String] {
        &self.names[..self.columns]
    }

    /// The id's field, when the model has an id column.
    pub fn id(&self) -> Option<usize> {
        self.id
    }

    /// The field of a lead's events, when the model has event rules.
    pub fn events(&self) -> Option<usize> {
        self.events
    }
}

/// The key of a lead's events: `"events": [{"event": TYPE, "at": TIME}, ...]`.
pub const EVENTS: &str = "events";

/// One field of a lead as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'de> {
    /// Not sent, or `null`.
    Missing,
    Bool(bool),
    Number(Number),
    Text(Cow<'de, str>),
    /// A list or an object (boxed: rare, and the other fields stay small).
    Nested(Box<Json>),
}

/// The leads of a request: `width` fields per lead, lead after lead, in one allocation.
#[derive(Debug)]
pub struct Leads<'de> {
    pub fields: Vec<Field<'de>>,
    pub width: usize,
    /// How many leads (also when `width` is 0: a model whose rules read no column).
    pub count: usize,
    /// The request's `as_of` as sent (checked when scoring), if any.
    pub as_of: Option<serde_json::Value>,
}

impl<'de> Leads<'de> {
    /// The fields of each lead, in request order.
    pub fn rows(&self) -> impl Iterator<Item = &[Field<'de>]> {
        (0..self.count).map(move |i| &self.fields[i * self.width..(i + 1) * self.width])
    }
}

/// Where a parse error was met: the lead (its index in `leads`) and its key, when inside one.
#[derive(Debug, Default)]
pub struct Place {
    pub lead: Option<usize>,
    pub column: Option<String>,
}

/// Reads a whole body (trailing characters are an error) into leads laid out by `layout`. The
/// error comes with the place it was met, for the problem's lead and column.
pub fn parse<'de>(
    body: &'de [u8],
    layout: &Layout,
) -> Result<Leads<'de>, (serde_json::Error, Place)> {
    let place = RefCell::new(Place::default());
    // UTF-8 checked once over the whole body (fast on ASCII) rather than string by string
    // inside the parser; a body that is not UTF-8 is read byte by byte, so the error names
    // where, as before.
    let leads = match std::str::from_utf8(body) {
        Ok(text) => read(serde_json::Deserializer::from_str(text), layout, &place),
        Err(_) => read(serde_json::Deserializer::from_slice(body), layout, &place),
    };
    leads.map_err(|e| (e, place.into_inner()))
}

fn read<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    layout: &Layout,
    place: &RefCell<Place>,
) -> serde_json::Result<Leads<'de>> {
    let leads = RequestSeed { layout, place }.deserialize(&mut de)?;
    de.end()?;
    Ok(leads)
}

/// `{"leads": [...]}`, as `#[derive(Deserialize)] struct Request { leads: Vec<_> }` reads it:
/// other keys ignored, `leads` required and once, the one-element array form accepted.
struct RequestSeed<'a> {
    layout: &'a Layout,
    place: &'a RefCell<Place>,
}

impl<'de> DeserializeSeed<'de> for RequestSeed<'_> {
    type Value = Leads<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Leads<'de>, D::Error> {
        d.deserialize_struct("Request", &["leads"], self)
    }
}

impl<'de> Visitor<'de> for RequestSeed<'_> {
    type Value = Leads<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct Request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leads<'de>, A::Error> {
        let mut leads: Option<Leads<'de>> = None;
        let mut as_of = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "leads" {
                if leads.is_some() {
                    return Err(de::Error::duplicate_field("leads"));
                }
                leads = Some(map.next_value_seed(self.leads())?);
            } else if key == "as_of" {
                if as_of.is_some() {
                    return Err(de::Error::duplicate_field("as_of"));
                }
                as_of = Some(map.next_value::<serde_json::Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let mut leads = leads.ok_or_else(|| de::Error::missing_field("leads"))?;
        leads.as_of = as_of;
        Ok(leads)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leads<'de>, A::Error> {
        let leads = self.leads();
        seq.next_element_seed(leads)?
            .ok_or_else(|| de::Error::invalid_length(0, &"struct Request with 1 element"))
    }
}

impl RequestSeed<'_> {
    fn leads(&self) -> LeadsSeed<'_> {
        LeadsSeed {
            layout: self.layout,
            place: self.place,
        }
    }
}

/// The `leads` array: every lead's fields appended to one vector.
struct LeadsSeed<'a> {
    layout: &'a Layout,
    place: &'a RefCell<Place>,
}

impl<'de> DeserializeSeed<'de> for LeadsSeed<'_> {
    type Value = Leads<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Leads<'de>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LeadsSeed<'_> {
    type Value = Leads<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leads<'de>, A::Error> {
        let width = self.layout.width();
        let mut fields = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(4096) * width);
        let mut count = 0;
        loop {
            let start = fields.len();
            fields.resize(start + width, Field::Missing);
            let lead = LeadSeed {
                layout: self.layout,
                place: self.place,
                index: count,
                row: &mut fields[start..],
            };
            match seq.next_element_seed(lead)? {
                Some(()) => count += 1,
                None => {
                    fields.truncate(start);
                    break;
                }
            }
        }
        Ok(Leads {
            as_of: None,
            fields,
            width,
            count,
        })
    }
}

/// One lead: an object whose keys fill `row`.
struct LeadSeed<'a, 'r, 'de> {
    layout: &'a Layout,
    place: &'a RefCell<Place>,
    index: usize,
    row: &'r mut [Field<'de>],
}

impl<'de> DeserializeSeed<'de> for LeadSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let (place, index) = (self.place, self.index);
        // Named here, as a path tracker would: an error inside the lead is at this lead.
        d.deserialize_map(self).inspect_err(|_| {
            place.borrow_mut().lead.get_or_insert(index);
        })
    }
}

impl<'de> Visitor<'de> for LeadSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let layout = self.layout;
        while let Some(key) = map.next_key_seed(KeySeed(layout))? {
            let (layout, place, key) = (layout, self.place, &key);
            match key {
                Key::Field(i) => {
                    let at = At::<FieldValue> {
                        layout,
                        place,
                        key,
                        value: PhantomData,
                    };
                    self.row[*i] = map.next_value_seed(at)?.0;
                }
                Key::Other(_) => {
                    let at = At::<Checked> {
                        layout,
                        place,
                        key,
                        value: PhantomData,
                    };
                    map.next_value_seed(at)?;
                }
            }
        }
        Ok(())
    }
}

/// The value of one key, named in the error when reading it fails (not when the colon before
/// it is missing: that is the lead's, as a path tracker names it).
struct At<'a, 'k, 'de, T> {
    layout: &'a Layout,
    place: &'a RefCell<Place>,
    key: &'k Key<'de>,
    value: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for At<'_, '_, 'de, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d).inspect_err(|_| {
            let name = match self.key {
                Key::Field(i) => self.layout.names[*i].clone(),
                Key::Other(k) => k.to_string(),
            };
            self.place.borrow_mut().column.get_or_insert(name);
        })
    }
}

/// A key: the field it fills, or another key (kept, borrowed, only to name it in an error).
enum Key<'de> {
    Field(usize),
    Other(Cow<'de, str>),
}

struct KeySeed<'a>(&'a Layout);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, k: &'de str) -> Result<Key<'de>, E> {
        Ok(self
            .0
            .field(k)
            .map_or(Key::Other(Cow::Borrowed(k)), Key::Field))
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key<'de>, E> {
        // A key with escapes: copied, as it cannot be borrowed from the body.
        Ok(self
            .0
            .field(k)
            .map_or_else(|| Key::Other(Cow::Owned(k.to_string())), Key::Field))
    }
}

/// The value of a field: a text borrowed from the body unless it holds escapes.
struct FieldValue<'de>(Field<'de>);

impl<'de> Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = FieldValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(FieldValue(Field::Bool(v)))
    }

    // Numbers as serde_json's `Value` holds them, so an id is echoed exactly as before.
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(FieldValue(Field::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(FieldValue(Field::Number(v.into())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(FieldValue(
            Number::from_f64(v).map_or(Field::Missing, Field::Number),
        ))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(FieldValue(Field::Text(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(FieldValue(Field::Text(Cow::Owned(v.to_string()))))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(FieldValue(Field::Missing))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = Json::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(FieldValue(Field::Nested(Box::new(v))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = Json::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(FieldValue(Field::Nested(Box::new(v))))
    }
}

/// The value of a key no rule reads: read as a JSON value (so a number too large to be finite
/// is refused, as a map of values refused it) and dropped without being kept.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}
