/// Removes the password from a database or queue URL before it is shown or logged.
///
/// ```
/// use jalin_engine::store::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/crm"), "postgres://app:***@db:5432/crm");
/// assert_eq!(redact_url("postgres://db/crm?user=a&password=x&sslmode=require"),
///            "postgres://db/crm?user=a&password=***&sslmode=require");
/// assert_eq!(redact_url("sqlite://var/jalin.db"), "sqlite://var/jalin.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some((userinfo, host)) = rest[..end].rsplit_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            shown = format!("{scheme}://{user}:***@{host}{}", &rest[end..]);
        }
    }
    // A password can also travel as a query parameter.
    if let Some(i) = shown.find("password=") {
        let start = i + "password=".len();
        let end = shown[start..].find('&').map_or(shown.len(), |j| start + j);
        shown.replace_range(start..end, "***");
    }
    shown
}
