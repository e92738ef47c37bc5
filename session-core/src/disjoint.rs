//! The compile-time check that no two schemas share a storage key.

/// Fails the build when two of the listed schemas share a storage key.
///
/// Two schemas that use one key for different types would overwrite each
/// other's data at run time; this check turns that into a compile error that
/// names the key and both schemas:
///
/// ```
/// use session_core::SessionSchema;
///
/// #[derive(SessionSchema)]
/// #[session(namespace = "cart")]
/// struct Cart {
///     #[session(default)]
///     items: Vec<u32>,
/// }
///
/// #[derive(SessionSchema)]
/// #[session(namespace = "auth")]
/// struct Auth {
///     user_id: Option<u64>,
/// }
///
/// session_core::assert_disjoint!(Cart, Auth);
/// ```
///
/// List every schema of the app in one call, typically next to the router.
#[macro_export]
macro_rules! assert_disjoint {
    ($($schema:ty),+ $(,)?) => {
        const _: () = $crate::__private::check_disjoint(&[
            $((::core::stringify!($schema), <$schema as $crate::SessionSchema>::KEYS)),+
        ]);
    };
}

/// Panics (at compile time, when const-evaluated) on the first key that two
/// schemas, or one schema twice, share.
pub const fn check_disjoint(schemas: &[(&str, &[&str])]) {
    let mut a = 0;
    while a < schemas.len() {
        let mut b = a;
        while b < schemas.len() {
            check_pair(schemas[a], schemas[b], a == b);
            b += 1;
        }
        a += 1;
    }
}

const fn check_pair(first: (&str, &[&str]), second: (&str, &[&str]), same_schema: bool) {
    let mut i = 0;
    while i < first.1.len() {
        let mut j = if same_schema { i + 1 } else { 0 };
        while j < second.1.len() {
            if str_eq(first.1[i], second.1[j]) {
                collision(first.1[i], first.0, second.0);
            }
            j += 1;
        }
        i += 1;
    }
}

pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const MESSAGE_CAPACITY: usize = 512;

#[track_caller]
const fn collision(key: &str, first: &str, second: &str) -> ! {
    let mut buffer = [0u8; MESSAGE_CAPACITY];
    let mut len = 0;
    len = append(&mut buffer, len, "storage key `");
    len = append(&mut buffer, len, key);
    len = append(&mut buffer, len, "` is used by both `");
    len = append(&mut buffer, len, first);
    len = append(&mut buffer, len, "` and `");
    len = append(&mut buffer, len, second);
    len = append(
        &mut buffer,
        len,
        "`; give one of them another `namespace` or `key`",
    );
    match core::str::from_utf8(buffer.split_at(len).0) {
        Ok(message) => panic!("{}", message),
        Err(_) => panic!("two session schemas share a storage key"),
    }
}

/// Appends `text` to the buffer, dropping what does not fit.
const fn append(buffer: &mut [u8; MESSAGE_CAPACITY], mut len: usize, text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && len < MESSAGE_CAPACITY {
        buffer[len] = bytes[i];
        len += 1;
        i += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_schemas_pass() {
        check_disjoint(&[("A", &["a.x", "a.y"]), ("B", &["b.x", "x"])]);
    }

    #[test]
    #[should_panic(expected = "storage key `shared` is used by both `A` and `B`")]
    fn a_shared_key_names_both_schemas() {
        check_disjoint(&[("A", &["a.x", "shared"]), ("B", &["shared"])]);
    }

    #[test]
    #[should_panic(expected = "storage key `a.x` is used by both `A` and `A`")]
    fn a_schema_listed_twice_collides_with_itself() {
        check_disjoint(&[("A", &["a.x"]), ("A", &["a.x"])]);
    }
}
