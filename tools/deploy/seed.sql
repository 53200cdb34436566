-- The deploy smoke's register (tools/deploy/register/*.csv: one provider, three caregivers on
-- shift, one elder), written straight into the tables while careline has no command to import
-- a register: scripts/deploy-smoke runs this with psql in the postgres container only when the
-- image's `careline register import` is missing (tools/deploy/smoke.py, import_register).
-- Travel between the four places is a matrix in minutes (caregivers' homes 0, 1, 3; the elder 2).
BEGIN;
INSERT INTO service_areas (service_area, name, travel_matrix, shift_end_hard, dispatch_mode, batch_interval_seconds)
VALUES ('gusu', '姑苏区', '[[0, 12, 9, 15], [12, 0, 14, 8], [9, 14, 0, 10], [15, 8, 10, 0]]', false, 'online', 60);
INSERT INTO service_area_regions (service_area, region_path) VALUES ('gusu', '江苏省/苏州市/姑苏区');
INSERT INTO provider_organisations (provider_id, name, service_area, service_types, address, phone, latitude, longitude, opening_hours)
VALUES ('P01', '姑苏居家乐养老服务中心', 'gusu', 'meal cleaning companionship', '苏州市姑苏区平江街道人民路1000号',
        '+8651265120001', 31.3160, 120.6240, '[]');
INSERT INTO caregivers (caregiver_id, provider_id, service_area, abilities, home_base_index, shift_start, shift_end,
                        active, phone, language, display_name, gender)
VALUES ('C01', 'P01', 'gusu', 'meal cleaning companionship', 0, now() - interval '1 hour', now() + interval '12 hours',
        true, '+8613900139001', 'zh-CN', '李梅', 'female'),
       ('C02', 'P01', 'gusu', 'meal cleaning companionship', 1, now() - interval '1 hour', now() + interval '12 hours',
        true, '+8613900139002', 'zh-CN', '陈静', 'female'),
       ('C03', 'P01', 'gusu', 'meal cleaning companionship', 3, now() - interval '1 hour', now() + interval '12 hours',
        true, '+8613900139003', 'zh-CN', '王强', 'male');
INSERT INTO elders (elder_id, service_area, location_index, latitude, longitude, phone, name, family_phones, language)
VALUES ('E001', 'gusu', 2, 31.3204, 120.6291, '+8613800138001', '张桂英', '["+8613800138101"]', 'zh-CN');
INSERT INTO elder_addresses (elder_id, address, neighbourhood)
VALUES ('E001', '江苏省苏州市姑苏区平江街道平江路社区钮家巷3号', '平江路社区');
COMMIT;
