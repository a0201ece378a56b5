//! One Parquet file of one participant, day and sensor type: typed columns from the sensor
//! type, rows appended in `ts` order and written a row group at a time (memory stays bounded),
//! zstd, written under a temporary name and renamed once complete, hashed while written.

use crate::hashing::HashingWriter;
use arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use srs_common::model::{FieldValue, StoredSample};
use srs_common::sensors::{FieldType, SensorType};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per row group (and per in-memory batch).
pub const ROW_GROUP_ROWS: usize = 65_536;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// A finished file: where, how many rows, how many bytes, its SHA-256.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

enum Column {
    Bool(BooleanBuilder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
}

pub struct SensorFile {
    temp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<HashingWriter>,
    schema: SchemaRef,
    field_names: Vec<String>,
    ts: TimestampNanosecondBuilder,
    received_at: TimestampNanosecondBuilder,
    sensor_id: StringBuilder,
    recording_id: StringBuilder,
    task_id: StringBuilder,
    sample_id: StringBuilder,
    columns: Vec<Column>,
    buffered: usize,
    rows: u64,
}

/// The file's schema: the fixed columns, then one nullable column per field of the type.
pub fn schema(sensor_type: &SensorType) -> SchemaRef {
    let time = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("ts", time.clone(), false),
        Field::new("received_at", time, false),
        Field::new("sensor_id", DataType::Utf8, false),
        Field::new("recording_id", DataType::Utf8, false),
        Field::new("task_id", DataType::Utf8, true),
        Field::new("sample_id", DataType::Utf8, true),
    ];
    for field in &sensor_type.fields {
        let data_type = match field.field_type {
            FieldType::Bool => DataType::Boolean,
            FieldType::I64 => DataType::Int64,
            FieldType::F64 => DataType::Float64,
            FieldType::String => DataType::Utf8,
        };
        fields.push(Field::new(&field.name, data_type, true));
    }
    Arc::new(Schema::new(fields))
}

/// How every export file is written: zstd (default level), row groups of [`ROW_GROUP_ROWS`].
/// The two timestamps rise (nearly) steadily and rarely repeat: delta encoding stores them in a
/// few bits a row, where a dictionary would hold every value once more.
pub fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for column in ["ts", "received_at"] {
        let column = ColumnPath::from(column);
        builder = builder.set_column_dictionary_enabled(column.clone(), false).set_column_encoding(column, Encoding::DELTA_BINARY_PACKED);
    }
    builder.build()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> FileError + '_ {
    move |error| FileError::Io(path.display().to_string(), error)
}

impl SensorFile {
    /// Creates `path` (under a temporary name until [`finish`](Self::finish)).
    pub fn create(path: PathBuf, sensor_type: &SensorType) -> Result<Self, FileError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let temp = path.with_extension("parquet.partial");
        let file = std::fs::File::create(&temp).map_err(io(&temp))?;
        let schema = schema(sensor_type);
        let writer = ArrowWriter::try_new(HashingWriter::new(file), schema.clone(), Some(writer_properties()))?;
        let columns = sensor_type
            .fields
            .iter()
            .map(|f| match f.field_type {
                FieldType::Bool => Column::Bool(BooleanBuilder::new()),
                FieldType::I64 => Column::I64(Int64Builder::new()),
                FieldType::F64 => Column::F64(Float64Builder::new()),
                FieldType::String => Column::Str(StringBuilder::new()),
            })
            .collect();
        Ok(Self {
            temp,
            path,
            writer,
            schema,
            field_names: sensor_type.fields.iter().map(|f| f.name.clone()).collect(),
            ts: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            received_at: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            sensor_id: StringBuilder::new(),
            recording_id: StringBuilder::new(),
            task_id: StringBuilder::new(),
            sample_id: StringBuilder::new(),
            columns,
            buffered: 0,
            rows: 0,
        })
    }

    /// Appends one sample (samples must come in `ts` order).
    pub fn append(&mut self, sample: &StoredSample) -> Result<(), FileError> {
        // Each field's value by column, read from the packed values without any parsing; a
        // field the type does not declare is left out, and a repeated one keeps its last value.
        let mut row = vec![FieldValue::Null; self.field_names.len()];
        for (position, (name, value)) in sample.values.iter().enumerate() {
            // Rows of one sensor send their fields in one order: try the same position first.
            let index = match self.field_names.get(position) {
                Some(expected) if expected == name => Some(position),
                _ => self.field_names.iter().position(|n| n == name),
            };
            if let Some(index) = index {
                row[index] = value;
            }
        }
        self.ts.append_value(sample.ts);
        self.received_at.append_value(sample.received_at);
        self.sensor_id.append_value(&sample.sensor_id);
        self.recording_id.append_value(&sample.recording_id);
        self.task_id.append_option(sample.task_id.as_deref());
        self.sample_id.append_option(sample.sample_id.as_deref());
        for (column, value) in self.columns.iter_mut().zip(row) {
            match (column, value) {
                (Column::Bool(b), FieldValue::Bool(v)) => b.append_value(v),
                (Column::I64(b), FieldValue::I64(v)) => b.append_value(v),
                (Column::F64(b), FieldValue::F64(v)) => b.append_value(v),
                (Column::F64(b), FieldValue::I64(v)) => b.append_value(v as f64),
                (Column::Str(b), FieldValue::Str(v)) => b.append_value(v),
                (Column::Bool(b), _) => b.append_null(),
                (Column::I64(b), _) => b.append_null(),
                (Column::F64(b), _) => b.append_null(),
                (Column::Str(b), _) => b.append_null(),
            }
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= ROW_GROUP_ROWS {
            // A full row group: the writer closes it as soon as it has this many rows.
            self.write_buffered()?;
        }
        Ok(())
    }

    /// Rows appended but not yet handed to the Parquet writer.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Writes what is buffered as a row group of its own, now (to bound memory).
    pub fn write_row_group(&mut self) -> Result<(), FileError> {
        self.write_buffered()?;
        self.writer.flush()?;
        Ok(())
    }

    fn write_buffered(&mut self) -> Result<(), FileError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.received_at.finish()),
            Arc::new(self.sensor_id.finish()),
            Arc::new(self.recording_id.finish()),
            Arc::new(self.task_id.finish()),
            Arc::new(self.sample_id.finish()),
        ];
        for column in &mut self.columns {
            arrays.push(match column {
                Column::Bool(b) => Arc::new(b.finish()),
                Column::I64(b) => Arc::new(b.finish()),
                Column::F64(b) => Arc::new(b.finish()),
                Column::Str(b) => Arc::new(b.finish()),
            });
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.writer.write(&batch)?;
        self.buffered = 0;
        Ok(())
    }

    /// Writes what is buffered, closes the file, syncs it and gives it its final name.
    pub fn finish(mut self) -> Result<Written, FileError> {
        self.write_buffered()?;
        let writer = self.writer.into_inner()?;
        let (file, bytes, sha256) = writer.finish().map_err(io(&self.temp))?;
        file.sync_all().map_err(io(&self.temp))?;
        std::fs::rename(&self.temp, &self.path).map_err(io(&self.path))?;
        Ok(Written { path: self.path, rows: self.rows, bytes, sha256 })
    }
}
