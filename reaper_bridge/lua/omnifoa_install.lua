-- omnifoa_install.lua: run once from REAPER's Actions list (Load ReaScript, then Run).
-- Registers omnifoa_ingest.lua as an action, makes the spool folders and writes
-- <resource path>/omnifoa/bridge.json, which tells omnifoa the action's command id.

local function script_dir()
  local source = debug.getinfo(1, "S").source
  return source:match("^@(.*[/\\])") or "./"
end

local json = dofile(script_dir() .. "omnifoa_json.lua")
local base = reaper.GetResourcePath() .. "/omnifoa"
local spool = base .. "/spool"
for _, folder in ipairs({ base, spool, spool .. "/pending", spool .. "/done", spool .. "/acks" }) do
  reaper.RecursiveCreateDirectory(folder, 0)
end

local command = reaper.AddRemoveReaScript(true, 0, script_dir() .. "omnifoa_ingest.lua", true)
if command == 0 then
  reaper.ShowMessageBox("REAPER could not register omnifoa_ingest.lua.", "omnifoa", 0)
  return
end
local named = reaper.ReverseNamedCommandLookup(command)
local config = { command_id = "_" .. named, spool = spool, version = 1 }
local path = base .. "/bridge.json"
-- Installing again keeps how to run omnifoa (`omnifoa reaper link` wrote it).
local previous = io.open(path, "rb")
if previous then
  local ok, old = pcall(json.decode, previous:read("a"))
  previous:close()
  if ok and type(old) == "table" and type(old.omnifoa_command) == "table" then
    config.omnifoa_command = old.omnifoa_command
  end
end
local f = assert(io.open(path .. ".partial", "wb"))
f:write(json.encode(config))
f:close()
os.remove(path)
assert(os.rename(path .. ".partial", path))
reaper.SetExtState("omnifoa", "command_id", config.command_id, true)
reaper.ShowConsoleMsg("omnifoa: ingest action _" .. named .. " registered; spool " .. spool .. "\n")
