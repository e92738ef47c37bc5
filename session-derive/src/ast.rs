//! A typed view of the derive input: the struct, its fields and their
//! attributes, borrowed from `syn`.

use syn::{
    Data, DeriveInput, Fields, GenericArgument, Generics, Ident, PathArguments, Type, Visibility,
};

use crate::attr::{self, FieldAttrs, StructAttrs};
use crate::errors::Errors;

/// A struct with named fields, the only input the derive accepts.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a Generics,
    pub(crate) attrs: StructAttrs,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) shape: Shape<'a>,
    pub(crate) attrs: FieldAttrs,
}

/// The field type as far as the getters and setters care.
pub(crate) enum Shape<'a> {
    /// `Option<U>`: absent reads as `None`; the setter takes `U`.
    Option(&'a Type),
    /// `Vec<T>`: flash fields get `push_*(T)`.
    Vec(&'a Type),
    Other,
}

impl<'a> Input<'a> {
    /// Reads the derive input, recording every problem with its shape.
    pub(crate) fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Self {
        let mut attrs = attr::parse_struct_attrs(&input.attrs, errors);
        // Checked here rather than in `valid`, because the handle is emitted
        // even when there are errors, and under this name it would redefine
        // the struct and bury the message under rustc's.
        if let Some(handle) = attrs.handle.take_if(|handle| *handle == input.ident) {
            errors.at(
                &handle,
                format!(
                    "`handle = {handle}` names the schema struct itself; the handle is a second type, so give it \
                     another name, as in `handle = {handle}Session` (the default when `handle` is left out)"
                ),
            );
        }
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named
                    .named
                    .iter()
                    .filter_map(|field| {
                        Some(Field {
                            ident: field.ident.as_ref()?,
                            ty: &field.ty,
                            shape: Shape::of(&field.ty),
                            attrs: attr::parse_field_attrs(&field.attrs, errors),
                        })
                    })
                    .collect(),
                Fields::Unnamed(unnamed) => {
                    errors.at(
                        unnamed,
                        "`SessionSchema` needs named fields: each field name becomes a storage key",
                    );
                    Vec::new()
                }
                Fields::Unit => {
                    errors.at(
                        &input.ident,
                        "`SessionSchema` needs a struct with named fields; a unit struct stores nothing",
                    );
                    Vec::new()
                }
            },
            Data::Enum(data) => {
                errors.at(
                    data.enum_token,
                    "`SessionSchema` can only be derived for a struct with named fields, not an enum; \
                     store the enum as the type of a field instead",
                );
                Vec::new()
            }
            Data::Union(data) => {
                errors.at(
                    data.union_token,
                    "`SessionSchema` can only be derived for a struct with named fields, not a union",
                );
                Vec::new()
            }
        };
        Input {
            ident: &input.ident,
            vis: &input.vis,
            generics: &input.generics,
            attrs,
            fields,
        }
    }
}

impl<'a> Shape<'a> {
    fn of(ty: &'a Type) -> Self {
        if let Some(inner) = single_argument(
            ty,
            &[
                &["Option"],
                &["std", "option", "Option"],
                &["core", "option", "Option"],
            ],
        ) {
            Shape::Option(inner)
        } else if let Some(inner) = single_argument(
            ty,
            &[&["Vec"], &["std", "vec", "Vec"], &["alloc", "vec", "Vec"]],
        ) {
            Shape::Vec(inner)
        } else {
            Shape::Other
        }
    }
}

/// The `U` of `Name<U>` when the type's path is one of `paths` (with or
/// without a leading `::`).
fn single_argument<'a>(ty: &'a Type, paths: &[&[&str]]) -> Option<&'a Type> {
    let Type::Path(type_path) = ty else {
        return None;
    };
    if type_path.qself.is_some() {
        return None;
    }
    let segments: Vec<String> = type_path
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    if !paths
        .iter()
        .any(|path| path.iter().copied().eq(segments.iter().map(String::as_str)))
    {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &type_path.path.segments.last()?.arguments
    else {
        return None;
    };
    match arguments.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

impl Field<'_> {
    /// The field name without a raw-identifier prefix.
    pub(crate) fn name(&self) -> String {
        let name = self.ident.to_string();
        name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
    }

    /// `key = ".."` as written, else `namespace.field`, else `field`.
    pub(crate) fn storage_key(&self, namespace: Option<&str>) -> String {
        match (&self.attrs.key, namespace) {
            (Some(key), _) => key.value(),
            (None, Some(namespace)) => format!("{namespace}.{}", self.name()),
            (None, None) => self.name(),
        }
    }

    /// Flash `Vec` fields read as empty when absent, as if `#[session(default)]`.
    pub(crate) fn is_vec_flash(&self) -> bool {
        self.attrs.flash.is_some() && matches!(self.shape, Shape::Vec(_))
    }

    /// The names of the handle methods this field generates.
    pub(crate) fn method_names(&self) -> Vec<String> {
        let name = self.name();
        let mut names = vec![
            name.clone(),
            format!("set_{name}"),
            format!("update_{name}"),
            format!("remove_{name}"),
        ];
        if self.attrs.expires_in.is_some() {
            names.push(format!("{name}_expires_at"));
        }
        if self.attrs.flash.is_some() {
            names.push(format!("take_{name}"));
            if matches!(self.shape, Shape::Vec(_)) {
                names.push(format!("push_{name}"));
            }
        }
        names
    }
}

impl Input<'_> {
    pub(crate) fn namespace(&self) -> Option<String> {
        self.attrs.namespace.as_ref().map(syn::LitStr::value)
    }

    /// The reserved key of a versioned schema: `{namespace}.__version`.
    pub(crate) fn version_key(&self) -> Option<String> {
        self.attrs.version.as_ref()?;
        Some(format!("{}.__version", self.namespace()?))
    }
}
