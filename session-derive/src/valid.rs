//! Rules that involve more than one attribute or field. Expansion may assume
//! they hold.

use std::collections::HashMap;

use crate::ast::{Input, Shape};
use crate::errors::Errors;

/// Methods every handle has, which no field-generated method may shadow.
const HANDLE_METHODS: &[&str] = &[
    "new",
    "with_clock",
    "raw",
    "clock",
    "id",
    "cycle_id",
    "flush",
    "load",
    "save",
    "clear",
    // Inherent getters would shadow the trait methods the handle implements.
    "clone",
    "fmt",
];

pub(crate) fn check(input: &Input<'_>, errors: &mut Errors) {
    check_generics(input, errors);
    check_namespace(input, errors);
    check_versioning(input, errors);
    check_fields(input, errors);
    check_unique_keys(input, errors);
    check_method_names(input, errors);
}

/// A session value outlives the request, so a schema cannot borrow.
fn check_generics(input: &Input<'_>, errors: &mut Errors) {
    for lifetime in input.generics.lifetimes() {
        errors.at(
            lifetime,
            "session schemas cannot have lifetime parameters: stored values outlive the request; \
             use owned types such as `String` instead of `&str`",
        );
    }
}

/// Keys are `namespace.field`, so a namespace must be one non-empty segment.
fn check_namespace(input: &Input<'_>, errors: &mut Errors) {
    let Some(namespace) = &input.attrs.namespace else {
        return;
    };
    let value = namespace.value();
    if value.is_empty() {
        errors.at(namespace, "`namespace` must not be empty: remove it, or name the namespace, as in `namespace = \"shop\"`");
    } else if value.contains('.') {
        errors.at(
            namespace,
            format!("`namespace = \"{value}\"` contains `.`, which separates the namespace from the field name in storage keys; use `_` or `-` instead"),
        );
    }
}

/// The version lives under one reserved key per namespace, and a migration
/// needs a version to migrate to.
fn check_versioning(input: &Input<'_>, errors: &mut Errors) {
    if let (Some(version), None) = (&input.attrs.version, &input.attrs.namespace) {
        errors.push(syn::Error::new(
            version.span,
            "`version` needs a `namespace`: the version is stored under the namespace's reserved key `{namespace}.__version`",
        ));
    }
    if let (Some(migrate_from), None) = (&input.attrs.migrate_from, &input.attrs.version) {
        errors.at(
            migrate_from,
            "`migrate_from` needs a `version` on this struct, one more than the version of the struct it migrates from",
        );
    }
    if let Some(reserved) = input.version_key() {
        let namespace = input.namespace();
        for field in &input.fields {
            if field.storage_key(namespace.as_deref()) == reserved {
                errors.at(
                    field.attrs.key.as_ref().map_or_else(|| { let ident = field.ident; quote::quote!(#ident) }, |key| quote::quote!(#key)),
                    format!("storage key `{reserved}` is reserved for the schema version; rename the field or give it another `key`"),
                );
            }
        }
    }
}

/// Every field must say what it reads as when the session does not hold it.
fn check_fields(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        let name = field.name();
        let is_option = matches!(field.shape, Shape::Option(_));
        if let Some(default) = &field.attrs.default {
            if is_option {
                errors.push(syn::Error::new(
                    default.span,
                    format!("field `{name}` is an `Option`, which already reads as `None` when absent; remove `default`, or make the type non-`Option` to read a default instead"),
                ));
            }
        } else if !is_option && !field.is_vec_flash() && !field.attrs.misspelled_default {
            errors.at(
                field.ty,
                format!("field `{name}` needs a value for when the session does not hold it yet: add `#[session(default)]` or `#[session(default = expr)]`, or make its type `Option<_>`"),
            );
        }
        if let Some(flash) = field.attrs.flash
            && matches!(field.shape, Shape::Other)
        {
            errors.push(syn::Error::new(
                flash,
                format!("`flash` field `{name}` must be an `Option<T>` (one message, read once with `take_{name}()`) or a `Vec<T>` (messages pushed with `push_{name}()`)"),
            ));
        }
        if let (Some(clear), Some(_)) = (field.attrs.clear_on_rotate, field.attrs.rotate_id) {
            errors.push(syn::Error::new(
                clear,
                format!("field `{name}` is `rotate_id`, so it is what changes at a rotation: it cannot also be `clear_on_rotate`; mark the fields that must not survive the new id instead"),
            ));
        }
        if let Some(key) = &field.attrs.key
            && key.value().is_empty()
        {
            errors.at(
                key,
                "`key` must not be empty: give the exact storage key, as in `key = \"user_id\"`",
            );
        }
    }
}

fn check_unique_keys(input: &Input<'_>, errors: &mut Errors) {
    let namespace = input.namespace();
    let mut seen: HashMap<String, String> = HashMap::new();
    for field in &input.fields {
        let key = field.storage_key(namespace.as_deref());
        if let Some(first) = seen.get(&key) {
            let at = field.attrs.key.as_ref().map_or_else(
                || syn::Error::new_spanned(field.ident, ""),
                |key| syn::Error::new_spanned(key, ""),
            );
            errors.push(syn::Error::new(
                at.span(),
                format!("fields `{first}` and `{}` both use storage key `{key}`; give one of them another `key`", field.name()),
            ));
        } else {
            seen.insert(key, field.name());
        }
    }
}

fn check_method_names(input: &Input<'_>, errors: &mut Errors) {
    let mut owners: HashMap<String, String> = HANDLE_METHODS
        .iter()
        .map(|name| ((*name).to_owned(), String::new()))
        .collect();
    for field in &input.fields {
        for method in field.method_names() {
            if let Some(owner) = owners.get(&method) {
                let clash = if owner.is_empty() {
                    "a method every handle has".to_owned()
                } else {
                    format!("a method of field `{owner}`")
                };
                errors.at(
                    field.ident,
                    format!(
                        "field `{}` would generate the handle method `{method}()`, which is {clash}; rename the field and keep its storage key with `#[session(key = \"...\")]`",
                        field.name()
                    ),
                );
                break;
            }
            owners.insert(method, field.name());
        }
    }
}
