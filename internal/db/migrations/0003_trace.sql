-- Trace records: what the hotline reads to a caller who keys in the trace code
-- printed on a meat or vegetable package. One row per code, along the chain
-- origin (farm, breeding or planting base) -> processing (slaughterhouse or
-- packing workshop) -> inspection -> wholesale market -> retailer.
--
-- Texts callers hear are stored twice, *_zh (Mandarin) and *_en (English):
-- the hotline speaks exactly these two languages, so plain columns keep
-- imports, constraints and queries simple; another language would be another
-- migration. Optional texts are '' when not recorded, optional dates and
-- numbers NULL. Package trace validates records before they get here; the
-- checks below only guard the shape.
CREATE TABLE trace_records (
    code                   text PRIMARY KEY CHECK (code ~ '^[0-9]{1,64}$'),
    category               text NOT NULL CHECK (category IN ('meat', 'vegetable')),
    product_zh             text NOT NULL,
    product_en             text NOT NULL,
    batch                  text NOT NULL,

    origin_kind            text NOT NULL CHECK (origin_kind IN ('farm', 'breeding_base', 'planting_base')),
    origin_name_zh         text NOT NULL,
    origin_name_en         text NOT NULL,
    origin_region_zh       text NOT NULL,
    origin_region_en       text NOT NULL,

    processor_kind         text NOT NULL DEFAULT '' CHECK (processor_kind IN ('', 'slaughterhouse', 'packing_workshop')),
    processor_name_zh      text NOT NULL DEFAULT '',
    processor_name_en      text NOT NULL DEFAULT '',
    processor_licence      text NOT NULL DEFAULT '',

    inspection_certificate text NOT NULL DEFAULT '',
    inspection_result      text NOT NULL DEFAULT '' CHECK (inspection_result IN ('', 'pass', 'fail')),
    inspection_agency_zh   text NOT NULL DEFAULT '',
    inspection_agency_en   text NOT NULL DEFAULT '',
    inspection_date        date,

    market_name_zh         text NOT NULL DEFAULT '',
    market_name_en         text NOT NULL DEFAULT '',
    market_region_zh       text NOT NULL DEFAULT '',
    market_region_en       text NOT NULL DEFAULT '',

    retailer_name_zh       text NOT NULL DEFAULT '',
    retailer_name_en       text NOT NULL DEFAULT '',
    retailer_region_zh     text NOT NULL DEFAULT '',
    retailer_region_en     text NOT NULL DEFAULT '',

    produced_on            date NOT NULL,  -- slaughtered, harvested or made
    packed_on              date,
    shelf_life_days        integer CHECK (shelf_life_days > 0),
    best_before            date,
    quantity               numeric(12, 3) CHECK (quantity > 0),
    unit                   text NOT NULL DEFAULT '' CHECK (unit IN ('', 'kg', 'g', 'jin', 't', 'head', 'piece', 'box', 'bag')),
    CHECK ((quantity IS NULL) = (unit = '')),

    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- A recall names a batch, a farm or a slaughterhouse: find every code in it.
CREATE INDEX trace_records_batch ON trace_records (batch);
CREATE INDEX trace_records_origin ON trace_records (origin_name_zh, produced_on);
CREATE INDEX trace_records_processor ON trace_records (processor_name_zh, produced_on) WHERE processor_name_zh <> '';
