use super::{SensorSpec, SensorType, SensorsFile, SensorsFileError, EXAMPLE_SENSORS_FILE};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The loaded sensors file with fast lookup of a sensor and its type by sensor id.
#[derive(Debug, Clone)]
pub struct SensorCatalog {
    file: SensorsFile,
    by_id: HashMap<String, (usize, usize)>,
    /// TTN device id to sensor index.
    by_ttn_device: HashMap<String, usize>,
    /// Shared strings, so hot paths can stamp samples without allocating.
    ids: Vec<Arc<str>>,
    type_names: Vec<Arc<str>>,
}

/// A known sensor, its type, and shared copies of its id and type name.
#[derive(Debug, Clone, Copy)]
pub struct SensorRef<'a> {
    /// The sensor's position in the sensors file, so per-sensor state can live in a `Vec`.
    pub index: usize,
    pub spec: &'a SensorSpec,
    pub sensor_type: &'a SensorType,
    pub id: &'a Arc<str>,
    pub type_name: &'a Arc<str>,
}

impl SensorCatalog {
    pub fn new(file: SensorsFile) -> Self {
        let type_index: HashMap<&str, usize> = file.sensor_types.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
        let mut by_id = HashMap::new();
        for (i, sensor) in file.sensors.iter().enumerate() {
            // Validation guarantees every sensor's type exists.
            if let Some(&t) = type_index.get(sensor.sensor_type.as_str()) {
                by_id.insert(sensor.id.clone(), (i, t));
            }
        }
        let by_ttn_device =
            file.sensors.iter().enumerate().filter_map(|(i, sensor)| Some((sensor.ttn.as_ref()?.device_id.clone(), i))).collect();
        let ids = file.sensors.iter().map(|s| Arc::from(s.id.as_str())).collect();
        let type_names = file.sensor_types.iter().map(|t| Arc::from(t.name.as_str())).collect();
        Self { file, by_id, by_ttn_device, ids, type_names }
    }

    /// The sensors file at `path`, or the built-in example when `path` is empty.
    pub fn load(path: &Path) -> Result<Self, SensorsFileError> {
        let file = if path.as_os_str().is_empty() {
            SensorsFile::parse("(built-in example)", EXAMPLE_SENSORS_FILE)?
        } else {
            SensorsFile::load(path)?
        };
        Ok(Self::new(file))
    }

    pub fn file(&self) -> &SensorsFile {
        &self.file
    }

    pub fn sensor(&self, id: &str) -> Option<SensorRef<'_>> {
        let &(s, t) = self.by_id.get(id)?;
        Some(SensorRef {
            index: s,
            spec: &self.file.sensors[s],
            sensor_type: &self.file.sensor_types[t],
            id: &self.ids[s],
            type_name: &self.type_names[t],
        })
    }

    /// The sensor whose `ttn.device_id` is `device_id`.
    pub fn sensor_of_ttn_device(&self, device_id: &str) -> Option<SensorRef<'_>> {
        self.sensor_at(*self.by_ttn_device.get(device_id)?)
    }

    /// The sensor at `index` in the sensors file.
    pub fn sensor_at(&self, index: usize) -> Option<SensorRef<'_>> {
        self.sensor(&self.file.sensors.get(index)?.id)
    }

    /// How many sensors the file declares.
    pub fn len(&self) -> usize {
        self.file.sensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.file.sensors.is_empty()
    }

    pub fn sensor_type(&self, name: &str) -> Option<&SensorType> {
        self.file.sensor_types.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_sensors_and_types() {
        let catalog = SensorCatalog::load(Path::new("")).expect("built-in example");
        let door = catalog.sensor("door-1").expect("door-1 exists");
        assert_eq!(door.sensor_type.name, "door");
        assert_eq!(&**door.type_name, "door");
        assert!(catalog.sensor("nope").is_none());
        assert!(catalog.sensor_type("ecg").is_some());
    }
}
