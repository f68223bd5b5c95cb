//! How an activation is written outside Rust: a built-in's name (`"relu"`), or the record
//! `{ name, formula, params }` (JSON, checkpoints, JavaScript), and its TypeScript type.

use std::collections::BTreeMap;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Activation, Builtin, builtin_names};
use crate::error::Error;

impl std::str::FromStr for Activation {
    type Err = Error;
    /// A built-in by name.
    fn from_str(s: &str) -> Result<Activation, Error> {
        Builtin::named(s).map(Activation::builtin).ok_or_else(|| {
            Error::Config(format!(
                "unknown activation {s:?}; the built-ins are {}, or give a formula",
                builtin_names()
            ))
        })
    }
}

impl Serialize for Activation {
    /// Always the whole record, `{ name, formula, params }`: what a checkpoint stores, so it
    /// loads back into the same function whatever the built-ins become.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("formula", &self.formula)?;
        let params: BTreeMap<&str, f64> =
            self.params.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        m.serialize_entry("params", &params)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Activation {
    /// A built-in's name (`"relu"`), or `{ name?, formula?, params? }`: without a formula, the
    /// built-in `name` with `params` over its defaults; with one, that formula and exactly
    /// the parameters it names.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Activation, D::Error> {
        d.deserialize_any(ActivationVisitor)
    }
}

struct ActivationVisitor;

impl<'de> Visitor<'de> for ActivationVisitor {
    type Value = Activation;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "a built-in activation's name ({}) or {{ name, formula, params }}",
            builtin_names()
        )
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Activation, E> {
        s.parse().map_err(|e: Error| E::custom(e))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Activation, A::Error> {
        let (mut name, mut formula, mut params) = (None::<String>, None::<String>, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => name = Some(map.next_value()?),
                "formula" => formula = Some(map.next_value()?),
                "params" => params = Some(map.next_value::<BTreeMap<String, f64>>()?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown field `{other}` of an activation; expected `name`, `formula` or `params`"
                    )));
                }
            }
        }
        Activation::from_parts(name, formula, params.unwrap_or_default()).map_err(de::Error::custom)
    }
}

/// The TypeScript declaration of what JavaScript may pass as an activation (tsify cannot see
/// through the hand-written serde impls above).
#[cfg(target_arch = "wasm32")]
pub mod ts {
    /// `{ name?, formula?, params? }`: a formula (with a name), or a built-in's parameters.
    #[derive(tsify::Tsify)]
    pub struct ActivationSpec {
        #[tsify(optional)]
        pub name: Option<String>,
        #[tsify(optional)]
        pub formula: Option<String>,
        #[tsify(optional, type = "Record<string, number>")]
        pub params: Option<()>,
    }

    /// A built-in's name, or a spec.
    #[derive(tsify::Tsify)]
    #[tsify(type = "Builtin | ActivationSpec")]
    pub struct Activation;
}
