//! Loading `[[hotspot_files]]`: CSV files of real hotspots.
//!
//! Two layouts are recognised by their header (see `shared/data/hotspots/`):
//! - `address,lat,lng,...` (`us-sample-4719.csv`): named by `address`;
//! - `id,n,lt,lg,g,e,o,...` (`with-reward-scale-55.csv`): named by `n` (or `id` when `n` is
//!   empty), gain `g` in dBi x 10, elevation `e` in metres, owner `o`.

use std::fs::File;
use std::path::Path;

use super::{DEFAULT_ELEVATION_M, DEFAULT_GAIN_DBI, HotspotFile, HotspotSpec, ScenarioError};

/// Column indices of one recognised layout.
struct Columns {
    /// Name columns in order of preference; the first non-empty one names the hotspot.
    names: Vec<usize>,
    lat: usize,
    lng: usize,
    /// Antenna gain in tenths of a dBi.
    gain_dbi_x10: Option<usize>,
    elevation_m: Option<usize>,
    owner: Option<usize>,
}

impl Columns {
    /// Recognises the layout from the header row.
    fn detect(header: &csv::StringRecord) -> Option<Self> {
        let find = |name: &str| header.iter().position(|h| h.trim() == name);
        if let (Some(address), Some(lat), Some(lng)) = (find("address"), find("lat"), find("lng")) {
            return Some(Self {
                names: vec![address],
                lat,
                lng,
                gain_dbi_x10: None,
                elevation_m: None,
                owner: None,
            });
        }
        let (id, lat, lng) = (find("id")?, find("lt")?, find("lg")?);
        Some(Self {
            names: find("n").into_iter().chain([id]).collect(),
            lat,
            lng,
            gain_dbi_x10: find("g"),
            elevation_m: find("e"),
            owner: find("o"),
        })
    }
}

/// Loads the hotspots of `file` (the `index`-th `[[hotspot_files]]` entry), with the place
/// each came from (`hotspot_files[i] (path) line n`). Rows are validated, then filtered by
/// `bbox`, then cut to `limit`.
pub(super) fn load(
    file: &HotspotFile,
    index: usize,
    base_dir: &Path,
) -> Result<Vec<(HotspotSpec, String)>, ScenarioError> {
    let at_file = format!("hotspot_files[{index}] ({})", file.path.display());
    if let Some(bbox) = file.bbox {
        validate_bbox(bbox, &at_file)?;
    }
    let full_path = base_dir.join(&file.path);
    let reader = File::open(&full_path).map_err(|source| ScenarioError::Io {
        path: full_path.clone(),
        source,
    })?;
    let mut reader = csv::Reader::from_reader(reader);
    let csv_error = |at: &str, e: csv::Error| ScenarioError::Csv {
        at: at.to_owned(),
        message: e.to_string(),
    };
    let header = reader.headers().map_err(|e| csv_error(&at_file, e))?;
    let columns = Columns::detect(header).ok_or_else(|| ScenarioError::Csv {
        at: at_file.clone(),
        message: format!(
            "unrecognised header {:?}",
            header.iter().collect::<Vec<_>>()
        ),
    })?;
    let limit = file.limit.unwrap_or(usize::MAX);
    let mut loaded = Vec::new();
    for record in reader.records() {
        if loaded.len() >= limit {
            break;
        }
        let record = record.map_err(|e| csv_error(&at_file, e))?;
        let line = record.position().map_or(0, csv::Position::line);
        let at = format!("{at_file} line {line}");
        let spec = parse_row(&record, &columns, file, &at)?;
        super::validate::validate_hotspot(&spec, &at)?;
        if file.bbox.is_none_or(|bbox| in_bbox(&spec, bbox)) {
            loaded.push((spec, at));
        }
    }
    Ok(loaded)
}

/// Builds a hotspot from one row; file-level settings override the row's columns.
fn parse_row(
    record: &csv::StringRecord,
    columns: &Columns,
    file: &HotspotFile,
    at: &str,
) -> Result<HotspotSpec, ScenarioError> {
    let text = |i: usize| record.get(i).unwrap_or("").trim();
    let name = columns
        .names
        .iter()
        .map(|&i| text(i))
        .find(|s| !s.is_empty())
        .ok_or_else(|| ScenarioError::Csv {
            at: at.to_owned(),
            message: "empty hotspot name".to_owned(),
        })?;
    let number = |i: usize, column: &str| {
        text(i).parse::<f64>().map_err(|_| ScenarioError::Csv {
            at: at.to_owned(),
            message: format!("column {column}: cannot parse {:?} as a number", text(i)),
        })
    };
    let gain_dbi = match (file.gain_dbi, columns.gain_dbi_x10) {
        (Some(gain), _) => gain,
        (None, Some(i)) => number(i, "g")? / 10.0,
        (None, None) => DEFAULT_GAIN_DBI,
    };
    let elevation_m = match (file.elevation_m, columns.elevation_m) {
        (Some(elevation), _) => elevation,
        (None, Some(i)) => number(i, "e")?,
        (None, None) => DEFAULT_ELEVATION_M,
    };
    let owner = file.owner.clone().or_else(|| {
        columns
            .owner
            .map(text)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    let (lat, lng) = (number(columns.lat, "lat")?, number(columns.lng, "lng")?);
    Ok(HotspotSpec {
        gain_dbi,
        elevation_m,
        owner,
        asserted_lat: Some(lat),
        asserted_lng: Some(lng),
        ..HotspotSpec::new(name, lat, lng)
    })
}

/// Checks `[min_lat, min_lng, max_lat, max_lng]`.
fn validate_bbox(bbox: [f64; 4], at: &str) -> Result<(), ScenarioError> {
    let [min_lat, min_lng, max_lat, max_lng] = bbox;
    let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
    let lng_ok = |v: f64| (-180.0..=180.0).contains(&v);
    let ok = lat_ok(min_lat)
        && lat_ok(max_lat)
        && lng_ok(min_lng)
        && lng_ok(max_lng)
        && min_lat <= max_lat
        && min_lng <= max_lng;
    if ok {
        Ok(())
    } else {
        Err(ScenarioError::InvalidBbox {
            at: at.to_owned(),
            bbox,
        })
    }
}

/// Whether the hotspot's true position lies inside `bbox` (edges included).
fn in_bbox(spec: &HotspotSpec, [min_lat, min_lng, max_lat, max_lng]: [f64; 4]) -> bool {
    (min_lat..=max_lat).contains(&spec.lat) && (min_lng..=max_lng).contains(&spec.lng)
}
