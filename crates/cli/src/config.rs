//! The user's configuration file: settings that belong to the person running medsurface rather
//! than to one command line (an API key, the paths of local databases).
//!
//! One small TOML file, found at `$MEDSURFACE_CONFIG`, else `$XDG_CONFIG_HOME/medsurface/
//! config.toml`, else `~/.config/medsurface/config.toml`. A missing file is an empty
//! configuration, so nobody needs one; a file that exists is read strictly (habit 6): an unknown
//! key or a value of the wrong type is an error naming the file and line, because a misspelt
//! `shodan_api_kye` silently ignored would be a worse surprise than a refusal. Relative paths in
//! it are taken from the file's own directory, not from wherever the command happens to run.
//!
//! The environment wins over the file (`SHODAN_API_KEY`, `MEDSURFACE_SHODAN_URL`); commands
//! apply that rule where they read a setting, this module only loads the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::InputError;

/// Settings from the configuration file; every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(dead_code)] // geoip_db and asn_db are read by the enrichment stage (issue #5)
pub struct Config {
    /// The file these settings came from (`None`: no file, all settings absent).
    pub file: Option<PathBuf>,
    /// Shodan API key (`SHODAN_API_KEY` wins over it).
    pub shodan_api_key: Option<String>,
    /// Base URL of the Shodan API (`--api-url` and `MEDSURFACE_SHODAN_URL` win over it).
    pub shodan_api_url: Option<String>,
    /// A MaxMind-format country (GeoIP) database, for enrichment.
    pub geoip_db: Option<PathBuf>,
    /// A MaxMind-format ASN database, for enrichment.
    pub asn_db: Option<PathBuf>,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    shodan_api_key: Option<String>,
    shodan_api_url: Option<String>,
    geoip_db: Option<PathBuf>,
    asn_db: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration file of this environment (see the module documentation); a
    /// missing file gives the empty configuration.
    pub fn load() -> anyhow::Result<Config> {
        match Config::path_from_env() {
            Some(path) => Config::from_file(&path),
            None => Ok(Config::default()),
        }
    }

    /// Where the configuration file is looked for, from the environment.
    pub fn path_from_env() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(p) = var("MEDSURFACE_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let base = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("medsurface").join("config.toml"))
    }

    /// Reads one configuration file; a file that does not exist is the empty configuration.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(InputError(format!(
                    "cannot read the configuration file {}: {e}",
                    path.display()
                ))
                .into())
            }
        };
        let mut config = Config::parse(&text, path).map_err(anyhow::Error::new)?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses the text of the configuration file at `path` (used in messages and to resolve
    /// relative paths).
    pub fn parse(text: &str, path: &Path) -> Result<Config, InputError> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            InputError(format!(
                "{}:{line}: {}",
                path.display(),
                e.message().trim_end()
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let resolve = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
        let nonempty =
            |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Config {
            file: None,
            shodan_api_key: nonempty(raw.shodan_api_key),
            shodan_api_url: nonempty(raw.shodan_api_url),
            geoip_db: raw.geoip_db.map(resolve),
            asn_db: raw.asn_db.map(resolve),
        })
    }
}

use medsurface_model::located::line_of;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/ms/config.toml")).map_err(|e| e.0)
    }

    #[test]
    fn reads_every_key_and_resolves_relative_paths_from_the_file() {
        let c = parse(
            "# mine\nshodan_api_key = \"k3y\"\nshodan_api_url = \"http://127.0.0.1:9\"\n\
             geoip_db = \"geo/country.mmdb\"\nasn_db = \"/srv/asn.mmdb\"\n",
        )
        .unwrap();
        assert_eq!(c.shodan_api_key.as_deref(), Some("k3y"));
        assert_eq!(c.shodan_api_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(
            c.geoip_db.as_deref(),
            Some(Path::new("/etc/ms/geo/country.mmdb"))
        );
        assert_eq!(c.asn_db.as_deref(), Some(Path::new("/srv/asn.mmdb")));
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(
            parse("shodan_api_key = \"  \"\n").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let e = parse("geoip_db = \"a.mmdb\"\n\nshodan_api_kye = \"x\"\n").unwrap_err();
        assert!(e.starts_with("/etc/ms/config.toml:3: "), "{e}");
        assert!(e.contains("shodan_api_kye"), "{e}");
    }

    #[test]
    fn wrong_type_and_bad_syntax_name_file_and_line() {
        let e = parse("\nasn_db = 12\n").unwrap_err();
        assert!(e.starts_with("/etc/ms/config.toml:2: "), "{e}");
        let e = parse("shodan_api_key = \"a\"\nshodan_api_url = \"unterminated\n").unwrap_err();
        assert!(e.starts_with("/etc/ms/config.toml:2: "), "{e}");
    }

    #[test]
    fn a_missing_file_is_fine_and_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Config::from_file(&dir.path().join("none.toml")).unwrap();
        assert_eq!(missing, Config::default());
        let e = Config::from_file(dir.path()).unwrap_err();
        assert!(e.to_string().contains("configuration file"), "{e}");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "shodan_api_key = \"abc\"\n").unwrap();
        let c = Config::from_file(&file).unwrap();
        assert_eq!(c.file.as_deref(), Some(file.as_path()));
        assert_eq!(c.shodan_api_key.as_deref(), Some("abc"));
    }
}
